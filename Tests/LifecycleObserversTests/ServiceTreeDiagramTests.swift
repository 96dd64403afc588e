import LifecycleObservers
import Testing

@Suite(.timeLimit(.minutes(1))) struct ServiceTreeDiagramTests {
    /// api needs [db, Parallel(cache, queue)]; cache needs db too, so db is shared.
    struct SmallTree {
        let db = ClosureService(name: "db")
        let cache: ClosureService
        let queue = ClosureService(name: "queue")
        let api: ClosureService

        init() {
            cache = ClosureService(name: "cache", dependencies: [db])
            api = ClosureService(name: "api", dependencies: [db, Parallel(cache, queue)])
        }

        /// db and cache ran and stopped, queue failed to start, api never started.
        var events: [LifecycleEvent] {
            [
                Fixture.event(db.serviceID, .idle, .starting, at: 0),
                Fixture.event(db.serviceID, .starting, .running, at: 1),
                Fixture.event(cache.serviceID, .idle, .starting, at: 1),
                Fixture.event(queue.serviceID, .idle, .starting, at: 1),
                Fixture.event(queue.serviceID, .starting, .failed, at: 2, error: Boom("refused")),
                Fixture.event(cache.serviceID, .starting, .running, at: 3),
                Fixture.event(cache.serviceID, .running, .stopping, at: 3),
                Fixture.event(cache.serviceID, .stopping, .stopped, at: 4),
                Fixture.event(db.serviceID, .running, .stopping, at: 4),
                Fixture.event(db.serviceID, .stopping, .stopped, at: 5),
            ]
        }
    }

    @Test func theMermaidTreeShowsStagesParallelGroupsAndSharedServicesOnce() {
        let tree = SmallTree()
        #expect(
            ServiceTreeDiagram(tree.api, events: tree.events).mermaid() == """
                flowchart TD
                    n1["api<br/>idle"]
                    n2["db<br/>stopped"]
                    subgraph g1 ["api stage 2 (parallel)"]
                        n3["cache<br/>stopped"]
                        n4["queue<br/>failed"]
                    end
                    n1 -->|1| n2
                    n1 -->|2| n3
                    n1 -->|2| n4
                    n3 -->|1| n2
                    classDef idle fill:#eeeeee,stroke:#868e96
                    class n1 idle
                    classDef stopped fill:#dbe4ff,stroke:#3b5bdb
                    class n2,n3 stopped
                    classDef failed fill:#ffc9c9,stroke:#e03131
                    class n4 failed

                """)
    }

    @Test func theDotTreeShowsStagesParallelGroupsAndSharedServicesOnce() {
        let tree = SmallTree()
        #expect(
            ServiceTreeDiagram(tree.api, events: tree.events).dot() == #"""
                digraph services {
                    rankdir=TB;
                    node [shape=box, style="rounded,filled"];
                    n1 [label="api\nidle", fillcolor="#eeeeee", color="#868e96"];
                    n2 [label="db\nstopped", fillcolor="#dbe4ff", color="#3b5bdb"];
                    subgraph cluster_g1 {
                        label="api stage 2 (parallel)";
                        style=dashed;
                        n3 [label="cache\nstopped", fillcolor="#dbe4ff", color="#3b5bdb"];
                        n4 [label="queue\nfailed", fillcolor="#ffc9c9", color="#e03131"];
                    }
                    n1 -> n2 [label="1"];
                    n1 -> n3 [label="2"];
                    n1 -> n4 [label="2"];
                    n3 -> n2 [label="1"];
                }

                """#)
    }

    @Test func withoutEventsTheTreeShowsTheCurrentStates() async throws {
        let tree = SmallTree()
        let running = try await withRunning(tree.api) { api in ServiceTreeDiagram(api).mermaid() }
        #expect(running.contains("    class n1,n2,n3,n4 running\n"))
        #expect(ServiceTreeDiagram(tree.api).mermaid().contains("    class n1,n2,n3,n4 stopped\n"))
    }

    @Test func aCycleIsDrawnOnceAndTheWalkEnds() {
        let first = Rewirable("first")
        let second = Rewirable("second")
        first.dependOn(second)
        second.dependOn(first)
        #expect(
            ServiceTreeDiagram(first).mermaid() == """
                flowchart TD
                    n1["first<br/>idle"]
                    n2["second<br/>idle"]
                    n1 -->|1| n2
                    n2 -->|1| n1
                    classDef idle fill:#eeeeee,stroke:#868e96
                    class n1,n2 idle

                """)
    }

    @Test func namesAreEscaped() {
        let odd = ClosureService(name: #"say "hi" <now>"#)
        #expect(ServiceTreeDiagram(odd).mermaid().contains(#"n1["say #quot;hi#quot; #lt;now#gt;<br/>idle"]"#))
        #expect(ServiceTreeDiagram(odd).dot().contains(#"n1 [label="say \"hi\" <now>\nidle""#))
    }
}
