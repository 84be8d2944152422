import Foundation
import Analysis
import Harness
import PropertyBased
import Routing
import XCTest

/// Property: for every suite key, any value (negative, zero, small, huge, NaN, infinite, a
/// string, a list, a mapping, null, a bool) gives either a clear error naming the file, the
/// line and the key, or a suite whose cells finish (ok, or failed with a reason) when run by
/// the real command line: never a signal.
///
/// Seeded and bounded: `cases` values drawn with PropertyBased's generators from a fixed
/// seed; the accepted ones that are small enough to train in a moment run as tiny cells in
/// one `moebench replicate` process (smoke proxy data), the rest are validated only.
final class SuiteValuePropertyTests: XCTestCase {
    static let cases = 240
    static let maxRuns = 24
    static let seed: (UInt64, UInt64, UInt64, UInt64) = (0x6d6f_6562, 0x656e_6368, 19, 2026)

    enum Place { case top, model, training, tier, option }

    static let modelKeys = ["d", "depth", "heads", "ffn_hidden", "dropout", "max_length", "vocab_size", "moe_every"]
    static let trainingKeys = ["steps", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "warmup", "schedule",
                               "clip_norm", "train_examples", "eval_examples", "checkpoint_every"]
    static let tierKeys = ["seeds", "data", "tasks", "methods"]
    /// Top-level keys (validated only: a valid value renames the suite or its method).
    static let topKeys = ["suite", "modality", "description", "name"]

    /// Every key of a suite's tier with where it goes; method options come from the registry.
    static func keys(method: String) -> [(Place, String)] {
        topKeys.map { (.top, $0) } + modelKeys.map { (.model, $0) } + trainingKeys.map { (.training, $0) } + tierKeys.map { (.tier, $0) }
            + (MethodRegistry.knownOptions[method] ?? []).sorted().map { (.option, $0) }
    }

    /// A random YAML value of one of the kinds a user can write.
    static func value(_ rng: inout Xoshiro) -> String {
        switch Gen.int(in: 0...15).run(using: &rng) {
        case 0: return String(Gen.int(in: -1_000_000 ... -1).run(using: &rng))
        case 1: return "0"
        case 2, 3, 4: return String(Gen.int(in: 1...12).run(using: &rng))
        case 5: return Gen.element(of: ["1000000", "123456789", "9223372036854775807", "99999999999999999999",
                                        "-9223372036854775808"]).run(using: &rng)!
        case 6: return Gen.element(of: [".nan", ".NaN"]).run(using: &rng)!
        case 7: return Gen.element(of: [".inf", "-.inf", "+.inf"]).run(using: &rng)!
        case 8, 9: return String(Gen<Double>.double(in: -2...2).run(using: &rng))
        case 10: return Gen.element(of: ["1e300", "-1e300", "1e-300", "5e-324"]).run(using: &rng)!
        case 11: return Gen.element(of: ["abc", "\"12\"", "'x y'", "none", "sequence", "adamw", "cosine", "proxy"]).run(using: &rng)!
        case 12: return Gen.element(of: ["[1, 2]", "[]", "[abc]", "[0]"]).run(using: &rng)!
        case 13: return Gen.element(of: ["{a: 1}", "{}"]).run(using: &rng)!
        case 14: return Gen.element(of: ["null", "~"]).run(using: &rng)!
        default: return Gen.element(of: ["true", "false"]).run(using: &rng)!
        }
    }

    struct Case {
        var name: String
        var modality: String
        var method: String
        var key: String
        var value: String
        var text: String
        var runnable: Bool
    }

    static func makeCase(_ i: Int, _ rng: inout Xoshiro) -> Case {
        let modality = Gen.element(of: ["text", "image", "speech"]).run(using: &rng)!
        let method = Gen.element(of: MethodRegistry.names).run(using: &rng)!
        let keys = keys(method: method)
        let (place, key) = keys[Gen.int(in: 0...(keys.count - 1)).run(using: &rng)]
        let v = value(&rng)
        let task = ["text": "rte", "image": "cifar100", "speech": "librispeech"][modality]!
        let maxLength = modality == "speech" ? 200 : 16
        var model: [(String, String)] = [("d", "8"), ("depth", "2"), ("heads", "2"), ("ffn_hidden", "16"),
                                         ("max_length", "\(maxLength)"), ("vocab_size", "120")]
        var training: [(String, String)] = [("steps", "3"), ("batch_size", "4"), ("lr", "0.002"), ("train_examples", "24"),
                                            ("eval_examples", "8")]
        var options = ""
        var tier = ""
        switch place {
        case .model: model = model.filter { $0.0 != key } + [(key, v)]
        case .training: training = training.filter { $0.0 != key } + [(key, v)]
        case .option: options = ", options: {\(key): \(v)}"
        case .tier: tier = "\n    \(key): \(v)"
        case .top: break
        }
        func flow(_ kv: [(String, String)]) -> String { kv.map { "\($0.0): \($0.1)" }.joined(separator: ", ") }
        let name = "case\(i)"
        func top(_ k: String, _ normal: String) -> String { place == .top && key == k ? v : normal }
        let text = """
        suite: \(top("suite", name))
        modality: \(top("modality", modality))
        description: \(top("description", "random values"))
        tasks: [\(task)]
        model: {d: 8, depth: 2, heads: 2, ffn_hidden: 16}
        methods:
          - {name: \(top("name", "m")), method: \(method)\(options)}
        seeds: 1
        training: {steps: 2, batch_size: 4}
        tiers:
          smoke:
            model: {\(flow(model))}
            training: {\(flow(training))}\(tier)
        """
        return Case(name: name, modality: modality, method: method, key: key, value: v, text: text, runnable: place != .top)
    }

    /// Small enough to train in well under a second.
    static func cheap(_ t: TierSpec) -> Bool {
        let steps = t.training.steps ?? Int(((t.training.epochs ?? 1) * Double(t.training.trainExamples ?? 10_000)
                                             / Double(t.training.batchSize)).rounded(.up))
        return t.model.d <= 32 && t.model.depth <= 4 && t.model.ffnHidden <= 64 && t.model.maxLength <= 256
            && t.model.vocabSize <= 2000 && steps <= 12 && t.training.batchSize <= 16 && t.seeds.count <= 2
            && t.data != "proxy" && (t.training.evalExamples ?? 64) <= 64
    }

    func testRandomValuesOfEveryKeyGiveAClearErrorOrAFinishedCell() throws {
        var rng = Xoshiro(seed: Self.seed)
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let suites = root.appendingPathComponent("Suites")
        try FileManager.default.createDirectory(at: suites, withIntermediateDirectories: true)
        var rejected = 0, accepted = 0
        var runs: [(Case, TierSpec)] = []
        var keysSeen = Set<String>()
        for i in 0..<Self.cases {
            let c = Self.makeCase(i, &rng)
            keysSeen.insert(c.key)
            let file = "Suites/\(c.name).yaml"
            do {
                let s = try Suite.parse(file: file, text: c.text, knownTasks: TaskCatalog.namesByModality,
                                        knownMethods: MethodRegistry.knownOptions)
                accepted += 1
                let t = try s.tier("smoke")
                if c.runnable, Self.cheap(t), runs.count < Self.maxRuns {
                    try c.text.write(to: root.appendingPathComponent(file), atomically: true, encoding: .utf8)
                    runs.append((c, t))
                }
            } catch let e as SuiteError {
                rejected += 1
                let d = e.description
                let located = d.range(of: #"^Suites/case\d+\.yaml:\d+: "#, options: .regularExpression) != nil
                XCTAssertTrue(located, "\(c.key): \(c.value): no file:line in \(d)")
                XCTAssertTrue(d.contains(c.key) || (c.key == "methods" && d.contains("method"))
                              || (c.key == "name" && d.contains("method name")) || (c.key == "suite" && d.contains("suite name")),
                              "\(c.key): \(c.value): the error does not name the key: \(d)")
            } catch {
                XCTFail("\(c.key): \(c.value): not a SuiteError: \(error)")
            }
        }
        // Every key of the suite file was drawn, and both outcomes happened.
        let every = Set(Self.topKeys + Self.modelKeys + Self.trainingKeys + Self.tierKeys)
        XCTAssertTrue(every.isSubset(of: keysSeen), "keys never drawn: \(every.subtracting(keysSeen).sorted())")
        XCTAssertGreaterThan(rejected, Self.cases / 4)
        XCTAssertGreaterThan(runs.count, 8, "too few accepted values ran (\(accepted) accepted)")

        print("suite values: \(Self.cases) drawn, \(rejected) rejected, \(accepted) accepted, \(runs.count) run: "
              + runs.map { "\($0.0.modality) \($0.0.method) \($0.0.key): \($0.0.value)" }.joined(separator: "; "))
        // The accepted values run as tiny cells through the command line: one process.
        let r = try CLI.run(["replicate", "--suite", "all", "--tier", "smoke", "--suites", "Suites", "--proxy-data", "data",
                             "--results", "results", "--no-report", "--threads", "1"], in: root)
        let tried = runs.map { "\($0.0.name): \($0.0.method) \($0.0.key): \($0.0.value)" }.joined(separator: "\n")
        XCTAssertFalse(r.signaled, "moebench was killed by signal \(r.status) running:\n\(tried)\n\(r.output.suffix(3000))")
        // Exit 0, or non-zero for failed cells: each is checked through its result file below.
        for (c, t) in runs {
            for seed in t.seeds {
                let url = root.appendingPathComponent("results/smoke/\(c.name)")
                    .appendingPathComponent("\(t.tasks[0])__m__s\(seed).json")
                guard let data = try? Data(contentsOf: url),
                      let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    XCTFail("\(c.name) (\(c.key): \(c.value)): no result file \(url.path)")
                    continue
                }
                if obj["status"] as? String != "ok" {
                    let why = obj["failure"] as? String ?? ""
                    XCTAssertFalse(why.isEmpty, "\(c.name) (\(c.key): \(c.value)): failed without a reason")
                }
            }
        }
    }
}
