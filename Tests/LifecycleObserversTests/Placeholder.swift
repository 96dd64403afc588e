import Testing
import LifecycleObservers

@Test func observersModuleImports() {
    #expect(ServiceState.idle.successors == [.starting])
}
