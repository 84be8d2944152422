import ArgumentParser
import Foundation
import Report

/// `moebench list methods|tasks|suites`.
struct ListCommand: ParsableCommand {
    enum What: String, ExpressibleByArgument, CaseIterable {
        case methods, tasks, suites
    }

    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the registered routing methods (options, defaults), the tasks (metrics) or the suite files.",
        discussion: """
        Read from the registries (Routing's MethodRegistry, the task catalog) and the suite files, \
        so the listing always matches the code.

        Examples:
          moebench list methods     # methods, their option keys and defaults
          moebench list tasks       # tasks by modality, metrics, which way is better
          moebench list suites      # Suites/*.yaml: tasks, method labels, tiers, cells and what the
                                    # cells in results/ cost
          moebench list suites --suites ~/my-suites
        """)

    @Argument(help: "What to list: methods, tasks or suites.") var what: What
    @Option(help: "Suites folder (for `list suites`).") var suites = "Suites"
    @Option(help: "Results folder whose cells' measured wall times `list suites` sums per tier (skipped when absent).") var results = "results"

    func run() throws {
        switch what {
        case .methods: print(Listing.methods(), terminator: "")
        case .tasks: print(Listing.tasks(), terminator: "")
        case .suites:
            var isDir: ObjCBool = false
            let root = FileManager.default.fileExists(atPath: results, isDirectory: &isDir) && isDir.boolValue
                ? URL(fileURLWithPath: results) : nil
            print(Listing.suites(try Listing.loadSuites(dir: suites), results: root), terminator: "")
        }
    }
}
