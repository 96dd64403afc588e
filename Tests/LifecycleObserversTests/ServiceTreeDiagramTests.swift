import Foundation
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
        #expect(ServiceTreeDiagram(odd).mermaid().contains(#"n1["say #34;hi#34; #60;now#62;<br/>idle"]"#))
        #expect(ServiceTreeDiagram(odd).dot().contains(#"n1 [label="say \"hi\" <now>\nidle""#))
    }

    /// root → [a, b], a → [db], b → [Parallel(db, cache)]: a plain stage finds db first.
    @Test func aSharedServiceIsDrawnInTheFirstParallelBoxThatHoldsItAsDocumented() {
        let db = ClosureService(name: "db")
        let cache = ClosureService(name: "cache")
        let a = ClosureService(name: "a", dependencies: [db])
        let b = ClosureService(name: "b", dependencies: [Parallel(db, cache)])
        let root = ClosureService(name: "root", dependencies: [a, b])
        #expect(
            ServiceTreeDiagram(root).mermaid() == """
                flowchart TD
                    n1["root<br/>idle"]
                    n2["a<br/>idle"]
                    n3["b<br/>idle"]
                    subgraph g1 ["b stage 1 (parallel)"]
                        n4["db<br/>idle"]
                        n5["cache<br/>idle"]
                    end
                    n1 -->|1| n2
                    n1 -->|2| n3
                    n2 -->|1| n4
                    n3 -->|1| n4
                    n3 -->|1| n5
                    classDef idle fill:#eeeeee,stroke:#868e96
                    class n1,n2,n3,n4,n5 idle

                """)
        #expect(
            ServiceTreeDiagram(root).dot().contains(
                "    subgraph cluster_g1 {\n        label=\"b stage 1 (parallel)\";\n        style=dashed;\n        n4 [label=\"db"
            ))
    }
}

/// Diagrams users paste into their docs: no service name may break them.
@Suite(.timeLimit(.minutes(1))) struct ServiceTreeDiagramRobustnessTests {
    /// A root whose stages are, for each name, a service of that name owning a parallel group
    /// (so the name also titles a box) of a service of that name and another.
    struct HostileTree {
        let root: ClosureService
        let all: [ClosureService]

        init(names: [String]) {
            var all: [ClosureService] = []
            var stages: [any DependencyElement] = []
            for name in names {
                let inner = ClosureService(name: name)
                let other = ClosureService(name: "other")
                let owner = ClosureService(name: name, dependencies: [Parallel(inner, other)])
                all += [owner, inner, other]
                stages.append(owner)
            }
            root = ClosureService(name: "root", dependencies: Dependencies(stages))
            self.all = [root] + all
        }
    }

    @Test func noNameBreaksAMermaidLabelOrStartsACommentOrADirective() throws {
        let names = Hostile.names + [Hostile.longName]
        let tree = HostileTree(names: names)
        let text = ServiceTreeDiagram(tree.root).mermaid()
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { !$0.hasControlCharacters })
        #expect(!text.contains("%"))
        let nodes = lines.compactMap { $0.wholeMatch(of: /\s+n([0-9]+)\["([^"]*)<br\/>idle"\]/) }
        #expect(nodes.count == tree.all.count)
        #expect(Set(nodes.map(\.output.1)).count == tree.all.count)
        let boxes = lines.compactMap { $0.wholeMatch(of: /\s{4}subgraph g[0-9]+ \["([^"]*) stage 1 \(parallel\)"\]/) }
        #expect(boxes.count == names.count)
        // Every line is a node, a box, an edge or a class: nothing a name wrote.
        let known =
            /flowchart TD|\s+n[0-9]+\[".*"\]|    subgraph g[0-9]+ \[".*"\]|    end|    n[0-9]+ -->\|[0-9]+\| n[0-9]+|    classDef idle .*|    class [n0-9,]+ idle/
        #expect(lines.allSatisfy { $0.wholeMatch(of: known) != nil })
        // What Mermaid draws: the name itself, when it has nothing to escape and fits.
        let drawn = Set(nodes.map { mermaidDecoded(String($0.output.2)) })
        for name in names where !name.hasControlCharacters && !name.isEmpty && name.count <= 200 {
            #expect(drawn.contains(name), "\(name)")
        }
        #expect(drawn.contains("(empty name)"))
        #expect(drawn.contains(String(repeating: "x", count: 199) + "…"))
    }

    @Test func aLongNameIsCutWithAnEllipsisAndTwoCutNamesStaySeparateNodes() {
        let first = ClosureService(name: Hostile.longName + "1")
        let second = ClosureService(name: Hostile.longName + "2")
        let root = ClosureService(name: "root", dependencies: [Parallel(first, second)])
        let cut = String(repeating: "x", count: 199) + "…"
        let mermaid = ServiceTreeDiagram(root).mermaid()
        #expect(mermaid.contains(#"n2["\#(cut)<br/>idle"]"#) && mermaid.contains(#"n3["\#(cut)<br/>idle"]"#))
        let dot = ServiceTreeDiagram(root).dot()
        #expect(dot.contains(#"n2 [label="\#(cut)\nidle""#) && dot.contains(#"n3 [label="\#(cut)\nidle""#))
        #expect(dot.contains("n1 -> n2") && dot.contains("n1 -> n3"))
    }

    @Test func dotLabelsHoldNoControlCharacterAndStayShort() {
        let tree = HostileTree(names: Hostile.names + [Hostile.longName])
        let dot = ServiceTreeDiagram(tree.root).dot()
        let lines = dot.split(separator: "\n")
        #expect(lines.allSatisfy { !$0.hasControlCharacters && $0.utf8.count < 2_000 })
        #expect(dot.contains(#"n1 [label="root\nidle""#))
        #expect(dot.contains(#"label="say \"hi\" \\ bye\nidle""#))
        #expect(dot.contains(#"label="nul\\u{0}x\nidle""#))
    }

    @Test(.enabled(if: Graphviz.isInstalled, "Graphviz's dot is not installed"))
    func graphvizAcceptsTheDotTreeWhateverTheNames() throws {
        let tree = HostileTree(names: Hostile.names + [Hostile.longName])
        let rendered = try Graphviz.renderSVG(ServiceTreeDiagram(tree.root).dot())
        #expect(rendered.status == 0, "\(rendered.errors)")
        #expect(rendered.errors.isEmpty)
    }

    @Test func theTreeOfEightThousandParallelGroupsIsDrawnWellWithinSeconds() {
        var all: [ClosureService] = []
        let stages = (0..<8_000).map { _ in
            let pair = [ClosureService(name: "left"), ClosureService(name: "right")]
            all += pair
            return Parallel(pair) as any DependencyElement
        }
        let root = ClosureService(name: "root", dependencies: Dependencies(stages))
        let clock = ContinuousClock()
        var mermaid = ""
        var dot = ""
        let elapsed = clock.measure {
            let diagram = ServiceTreeDiagram(root)
            mermaid = diagram.mermaid()
            dot = diagram.dot()
        }
        #expect(mermaid.components(separatedBy: "    subgraph g").count == 8_001)
        #expect(dot.components(separatedBy: "    subgraph cluster_g").count == 8_001)
        // Quadratic in the groups, 4,000 took 3.3 s in release (8,000: 35 s in a debug build); linear, milliseconds.
        #expect(elapsed < .seconds(10))
        withExtendedLifetime(all) {}
    }
}
