import LifecycleObservers
import Testing

@Test func observersModuleImports() {
    #expect(ServiceState.idle.successors == [.starting])
}
