import Foundation
import Analysis
import Harness
import Routing

/// What `moebench list` prints: the registered routing methods with their options and
/// defaults, the task catalog, the suite files. Read from the registries, never written by
/// hand, so the listing cannot drift from the code.
public enum Listing {
    /// One block per registered method: name, kind, summary, then each settable option with
    /// its default (`OptionDefaults`), and the options fixed by the name.
    public static func methods() -> String {
        var s = "Routing methods (MethodRegistry; a suite's `methods:` entry names one, `options:` sets its keys):\n"
        for m in MethodRegistry.methods {
            s += "\n\(m.name)  [\(m.isBlockMixer ? "block mixer" : "FFN slot")]\n    \(m.summary)\n"
            let defaults = OptionDefaults.defaults(of: m)
            if !m.preset.isEmpty {
                s += "    fixed: " + m.preset.keys.sorted().map { "\($0) = \(m.preset[$0]!)" }.joined(separator: ", ") + "\n"
            }
            if m.optionKeys.isEmpty { s += "    options: none\n" }
            for k in m.optionKeys.sorted() {
                s += "    \(k) = \(defaults[k] ?? "(no default: read only with other options set)")\n"
            }
        }
        return s
    }

    static func direction(_ metric: String) -> String { metricHigherIsBetter(metric) ? "higher is better" : "lower is better" }

    /// The task catalog by modality: name, title, metrics (result keys, titles, direction).
    public static func tasks() -> String {
        var s = "Tasks (TaskCatalog; a suite's `tasks:` names them, by its `modality:`):\n"
        for m in Modality.allCases {
            s += "\n\(m.rawValue):\n"
            let infos = TaskCatalog.tasks(m)
            let w = infos.map(\.name.count).max() ?? 0
            for t in infos {
                let metrics = zip(t.metrics, t.metricTitles).map { "\($0.0) (\($0.1), \(direction($0.0)))" }.joined(separator: ", ")
                s += "  " + t.name.padding(toLength: w + 2, withPad: " ", startingAt: 0) + t.title + ": " + metrics + "\n"
            }
        }
        return s
    }

    /// Every suite: file, modality, tasks, method labels (with method and options), seeds,
    /// and the tiers it defines with their cell counts. With `results`, each tier also says
    /// what its cells measured there cost (`measuredCost`).
    public static func suites(_ suites: [Suite], results: URL? = nil) -> String {
        var s = "Suites (run with `moebench replicate --suite NAME --tier TIER`):\n"
        for suite in suites {
            s += "\n\(suite.name)  (\(suite.file), modality \(suite.modality.rawValue))\n"
            s += "    tasks: \(suite.tasks.joined(separator: ", "))\n"
            s += "    methods: " + suite.methods.map { e in
                let opts = e.options.keys.sorted().map { "\($0): \(e.options[$0]!)" }.joined(separator: ", ")
                return e.label == e.method && opts.isEmpty ? e.label : "\(e.label) = \(e.method)\(opts.isEmpty ? "" : " {\(opts)}")"
            }.joined(separator: ", ") + "\n"
            for name in Suite.tierNames + suite.tiers.keys.filter({ !Suite.tierNames.contains($0) }).sorted() {
                guard let t = suite.tiers[name] else { continue }
                let cells = (try? expandGrid(suite: suite, tierName: name)) ?? []
                s += "    tier \(name): data \(t.data), seeds \(t.seeds.map(String.init).joined(separator: " ")), "
                    + "\(t.tasks.count) task\(t.tasks.count == 1 ? "" : "s"), \(t.methods.count) method\(t.methods.count == 1 ? "" : "s"), "
                    + "\(cells.count) cell\(cells.count == 1 ? "" : "s")"
                if let results, let cost = measuredCost(cells, results: results) { s += "; " + cost }
                s += "\n"
            }
        }
        return s
    }

    /// What the cells of a grid cost where they were run: the summed wall times of the
    /// successful results under `results` made from the same configuration (any build),
    /// "measured 44.0 min of cells (all 49 in results/), about 22 min at 2 jobs"; nil when
    /// none is there.
    public static func measuredCost(_ cells: [Cell], results: URL) -> String? {
        let found = cells.compactMap { c -> CellResult? in
            let url = c.resultPath(in: results)
            guard FileManager.default.fileExists(atPath: url.path), let r = try? ResultStore.read(url),
                  r.configHash == c.config.hash else { return nil }
            return r
        }
        let cost = CellCost(found)
        guard cost.cells > 0 else { return nil }
        let place = (cost.cells == cells.count ? "all \(cost.cells)" : "\(cost.cells) of them") + " in \(results.relativePath)/"
        func duration(_ t: Double, _ minuteDigits: Int) -> String {
            t < 60 ? String(format: "%.0f s", t) : String(format: "%.\(minuteDigits)f min", t / 60)
        }
        return "measured \(duration(cost.seconds, 1)) of cells (\(place)), about \(duration(cost.wallSeconds, 0)) at \(CellCost.jobs) jobs"
    }

    /// Loads every suite file (`*.yaml` except `claims.yaml`) of `dir`, validated against the
    /// registries; a missing folder is an error that says how to point at one.
    public static func loadSuites(dir: String) throws -> [Suite] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue,
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw HarnessError("\(dir): no such suites folder; run from the repository root or pass --suites DIR")
        }
        return try files.filter { $0.hasSuffix(".yaml") && $0 != "claims.yaml" }.sorted().map {
            try Suite.load(file: (dir as NSString).appendingPathComponent($0), knownTasks: TaskCatalog.namesByModality,
                           knownMethods: MethodRegistry.knownOptions)
        }
    }
}
