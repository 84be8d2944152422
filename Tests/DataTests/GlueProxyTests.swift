import Foundation
import XCTest
@testable import Data
import Tensor

/// The GLUE proxy: published layout, determinism, and that every task is a learnable
/// problem whose difficulty levels are graded (a bag-of-n-grams logistic regression written
/// here beats chance on every task's dev split, and does better on level 1 than level 3).
final class GlueProxyTests: XCTestCase {
    var dirs: [URL] = []

    func tempRoot() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("glue-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        dirs.append(url)
        return url
    }

    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(at: d) }
        dirs = []
    }

    func allFiles(_ root: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let glue = DatasetLayout.glue(root)
        for task in GLUETask.allCases {
            let dir = GLUE.taskFolder(root: root, task: task)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
                out["\(task.rawValue)/\(name)"] = try Data(contentsOf: dir.appendingPathComponent(name))
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: glue.path).sorted(),
                       GLUETask.allCases.map(\.rawValue).sorted())
        return out
    }

    func testSameSeedWritesIdenticalBytes() throws {
        let a = try tempRoot(), b = try tempRoot(), c = try tempRoot()
        try GLUEProxy.write(root: a, seed: 7, scale: .smoke)
        try GLUEProxy.write(root: b, seed: 7, scale: .smoke)
        try GLUEProxy.write(root: c, seed: 8, scale: .smoke)
        let fa = try allFiles(a), fb = try allFiles(b), fc = try allFiles(c)
        // train, dev, test and difficulty.tsv; MNLI has two dev and two test splits.
        XCTAssertEqual(fa.count, 8 * 4 + 6)
        XCTAssertEqual(Set(fa.keys), Set(fb.keys))
        for (k, v) in fa { XCTAssertEqual(v, fb[k], "\(k) differs between two writes with seed 7") }
        var differing = 0
        for (k, v) in fa where fc[k] != v { differing += 1 }
        XCTAssertGreaterThanOrEqual(differing, 9 * 3, "seed 8 should change every data file")
        // Rewriting a proxy root in place is allowed and gives the same bytes.
        try GLUEProxy.write(root: a, seed: 7, scale: .smoke)
        XCTAssertEqual(try allFiles(a), fa)
        XCTAssertTrue(try String(contentsOf: DatasetLayout.proxyMarkerFile(a), encoding: .utf8).contains("seed 7"))
    }

    func testFilesFollowThePublishedLayout() throws {
        let root = try tempRoot()
        try GLUEProxy.write(root: root, seed: 1, scale: .smoke)
        let sizes = GLUEProxy.sizes(.smoke)
        for task in GLUETask.allCases {
            for split in task.splits {
                let s = try GLUE.load(root: root, task: task, split: split)
                let expected = split == "train" ? sizes.train : split.hasPrefix("dev") ? sizes.dev : sizes.test
                XCTAssertEqual(s.count, expected, "\(task)/\(split)")
                XCTAssertEqual(s.hasLabels, !split.hasPrefix("test"))
                XCTAssertEqual(s.examples.allSatisfy { ($0.textB != nil) == task.isPair }, true, "\(task)/\(split)")
                XCTAssertFalse(s.examples.contains { $0.textA.isEmpty || $0.textB == "" }, "\(task)/\(split)")
                if s.hasLabels && !task.isRegression {
                    // Every label occurs.
                    XCTAssertEqual(Set(s.labels), Set(0..<task.numLabels), "\(task)/\(split)")
                }
                if s.hasLabels && task.isRegression {
                    XCTAssertTrue(s.scores.allSatisfy { $0 >= 0 && $0 <= 5 })
                    XCTAssertGreaterThan(Set(s.scores).count, 8, "STS-B scores should be graded")
                }
                if task == .qqp && split == "train" { XCTAssertGreaterThan(s.skipped, 0) } else { XCTAssertEqual(s.skipped, 0) }
                // Difficulty rows name exactly the data rows, with every level present.
                let levels = try XCTUnwrap(GLUE.loadDifficulty(root: root, task: task, split: split))
                XCTAssertEqual(Set(levels.keys), Set(s.examples.map(\.index)), "\(task)/\(split)")
                XCTAssertEqual(Set(levels.values), [1, 2, 3])
                // Header rows exactly as published; CoLA train/dev have none.
                let text = try String(contentsOf: GLUE.file(root: root, task: task, split: split), encoding: .utf8)
                let first = String(text.prefix { $0 != "\n" })
                let layout = GLUE.columns(task: task, split: split)
                if layout.header {
                    XCTAssertEqual(first.replacingOccurrences(of: "\u{FEFF}", with: ""),
                                   layout.headerNames.joined(separator: "\t"), "\(task)/\(split)")
                } else {
                    XCTAssertEqual(first.split(separator: "\t", omittingEmptySubsequences: false).count, 4)
                }
                // Every data row has exactly the published column count (QQP's broken rows aside).
                let counts = Set(text.split(separator: "\n").dropFirst(layout.header ? 1 : 0)
                    .map { $0.split(separator: "\t", omittingEmptySubsequences: false).count })
                if task != .qqp || split != "train" {
                    XCTAssertEqual(counts, [layout.headerNames.isEmpty ? 4 : layout.headerNames.count], "\(task)/\(split)")
                }
            }
        }
        // MRPC train and dev start with a UTF-8 byte-order mark, its test file does not.
        let mrpcTrain = try Data(contentsOf: GLUE.file(root: root, task: .mrpc, split: "train"))
        XCTAssertEqual(Array(mrpcTrain.prefix(3)), [0xEF, 0xBB, 0xBF])
        let mrpcTest = try Data(contentsOf: GLUE.file(root: root, task: .mrpc, split: "test"))
        XCTAssertEqual(Array(mrpcTest.prefix(5)), Array("index".utf8))
        // CoLA marks unacceptable sentences with "*" in the third column.
        let cola = try String(contentsOf: GLUE.file(root: root, task: .cola, split: "train"), encoding: .utf8)
        for line in cola.split(separator: "\n") {
            let c = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(c[2], c[1] == "0" ? "*" : "")
        }
        // MNLI dev rows: five annotator labels and the gold label last, gold the majority.
        let dev = try String(contentsOf: GLUE.file(root: root, task: .mnli, split: "dev_matched"), encoding: .utf8)
        for line in dev.split(separator: "\n").dropFirst() {
            let c = line.split(separator: "\t", omittingEmptySubsequences: false)
            let votes = c[10..<15].filter { $0 == c[15] }.count
            XCTAssertGreaterThanOrEqual(votes, 4)
        }
    }

    func testPublishedDataIsNeverOverwritten() throws {
        let root = try tempRoot()
        let dir = GLUE.taskFolder(root: root, task: .rte)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("index\tsentence1\tsentence2\tlabel\n".utf8).write(to: dir.appendingPathComponent("train.tsv"))
        XCTAssertThrowsError(try GLUEProxy.write(root: root, seed: 1, scale: .smoke)) { error in
            XCTAssertTrue((error as! DataError).file.hasSuffix("glue/RTE"), "\(error)")
        }
        // Nothing was written.
        XCTAssertFalse(FileManager.default.fileExists(atPath: GLUE.taskFolder(root: root, task: .cola).path))
    }

    func testProxyRootRefusesPublishedDataBeforeWriting() throws {
        let fm = FileManager.default
        for (folder, file) in [("glue/QQP", "train.tsv"), ("cifar-100-binary", "train.bin"), ("LibriSpeech/dev-clean", "x.flac")] {
            let root = try tempRoot()
            let dir = root.appendingPathComponent(folder)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data().write(to: dir.appendingPathComponent(file))
            XCTAssertThrowsError(try ProxyData.write(root: root, seed: 1, scale: .smoke)) { error in
                XCTAssertTrue((error as! DataError).file.hasSuffix(folder), "\(error)")
            }
            // Nothing written: no PROXY.md marking the published data as synthetic.
            XCTAssertFalse(fm.fileExists(atPath: DatasetLayout.proxyMarkerFile(root).path), folder)
            XCTAssertFalse(fm.fileExists(atPath: DatasetLayout.glue(root).appendingPathComponent("CoLA").path), folder)
            // The same folder marked as proxy data (difficulty.tsv) passes the check.
            try Data().write(to: dir.appendingPathComponent("difficulty.tsv"))
            XCTAssertNoThrow(try ProxyData.refusePublishedData(root: root))
        }
    }

    // MARK: Learnability

    /// Hashed sparse features: unigrams and bigrams of each text; for pairs also overlap
    /// features (each second-text word found or not in the first, first-text words missing
    /// from the second, an overlap bucket) and two generic conjunctions with the second
    /// text's words (whether both texts start with the same content word; the first text's
    /// first word).
    struct Featurizer {
        static let dimension = 1 << 18
        var vocabulary: [String: Int] = [:]
        var words: [String] = [""]
        let basic = BasicTokenizer()
        static let stop: Set<String> = ["the", "a", "an", "some", "two", ",", ".", "?", "\""]

        mutating func ids(_ text: String) -> [Int] {
            basic.tokenize(text).map { w in
                if let id = vocabulary[w] { return id }
                vocabulary[w] = words.count
                words.append(w)
                return words.count - 1
            }
        }

        static func hash(_ kind: Int, _ x: Int, _ y: Int = 0) -> Int {
            var h = UInt64(truncatingIfNeeded: kind) &* 0x9E37_79B9_7F4A_7C15
            h ^= UInt64(truncatingIfNeeded: x) &* 0xBF58_476D_1CE4_E5B9
            h = (h ^ (h >> 31)) &* 0x94D0_49BB_1331_11EB
            h ^= UInt64(truncatingIfNeeded: y) &* 0xD6E8_FEB8_6659_FD93
            h ^= h >> 29
            return Int(h % UInt64(dimension))
        }

        mutating func features(_ a: String, _ b: String?) -> [Int] {
            let ta = ids(a)
            var f: [Int] = []
            // Bigrams include the sentence boundaries (id 0).
            for (i, w) in ta.enumerated() {
                f.append(Self.hash(1, w))
                f.append(Self.hash(2, i > 0 ? ta[i - 1] : 0, w))
            }
            f.append(Self.hash(2, ta.last ?? 0, 0))
            guard let b else { return f }
            let tb = ids(b)
            let setA = Set(ta), setB = Set(tb)
            let headA = ta.first { !Featurizer.stop.contains(words[$0]) }
            let headB = tb.first { !Featurizer.stop.contains(words[$0]) }
            let sameStart = headA == headB ? 1 : 0
            let firstA = ta.first ?? 0
            var shared = 0
            for (i, w) in tb.enumerated() {
                f.append(Self.hash(3, w))
                if i > 0 { f.append(Self.hash(4, tb[i - 1], w)) }
                if setA.contains(w) { f.append(Self.hash(5, w)); shared += 1 } else { f.append(Self.hash(6, w)) }
                f.append(Self.hash(7 + sameStart, w))
                f.append(Self.hash(9, firstA, w))
            }
            var missing = 0
            for w in setA where !setB.contains(w) { f.append(Self.hash(10, w)); missing += 1 }
            // Cumulative overlap indicators: share of the second text found in the first, and
            // share of the first text's word types missing from the second.
            for k in 0...(tb.isEmpty ? 0 : 10 * shared / tb.count) { f.append(Self.hash(11, k)) }
            for k in 0...(setA.isEmpty ? 0 : 10 * missing / setA.count) { f.append(Self.hash(13, k)) }
            f.append(Self.hash(12, sameStart))
            return f
        }
    }

    /// Multinomial logistic regression (classes > 1) or least squares (classes == 1) by SGD.
    struct Linear {
        let classes: Int
        var w: [Float]
        var bias: [Float]

        init(classes: Int) {
            self.classes = classes
            w = [Float](repeating: 0, count: classes * Featurizer.dimension)
            bias = [Float](repeating: 0, count: classes)
        }

        func scores(_ f: [Int]) -> [Float] {
            (0..<classes).map { c in
                var s = bias[c]
                for j in f { s += w[c * Featurizer.dimension + j] }
                return s
            }
        }

        mutating func train(_ xs: [[Int]], _ ys: [Float], epochs: Int, rate: Float) {
            var order = Array(xs.indices)
            var g = RNG(seed: 99)
            for epoch in 0..<epochs {
                g.shuffle(&order)
                let lr = rate / (1 + Float(epoch))
                for i in order {
                    let s = scores(xs[i])
                    var grad = [Float](repeating: 0, count: classes)
                    if classes == 1 {
                        grad[0] = s[0] - ys[i]
                    } else {
                        let m = s.max()!
                        let e = s.map { Foundation.exp($0 - m) }
                        let z = e.reduce(0, +)
                        for c in 0..<classes { grad[c] = e[c] / z - (c == Int(ys[i]) ? 1 : 0) }
                    }
                    let scale = lr / Float(max(1, xs[i].count)).squareRoot()
                    for c in 0..<classes where grad[c] != 0 {
                        bias[c] -= lr * grad[c]
                        for j in xs[i] { w[c * Featurizer.dimension + j] -= scale * grad[c] }
                    }
                }
            }
        }

        func predict(_ f: [Int]) -> Int {
            let s = scores(f)
            return s.indices.max { s[$0] < s[$1] }!
        }
    }

    func testEveryTaskIsLearnableAndLevelsAreGraded() throws {
        let root = try tempRoot()
        try GLUEProxy.write(root: root, seed: 5, sizes: GLUEProxy.Sizes(train: 1200, dev: 300, test: 1))
        var hitsByLevel = [Int](repeating: 0, count: 4), totalByLevel = [Int](repeating: 0, count: 4)
        var report: [String] = []
        for task in GLUETask.allCases {
            var fz = Featurizer()
            let train = try GLUE.load(root: root, task: task, split: "train")
            let xs = train.examples.map { fz.features($0.textA, $0.textB) }
            let ys = train.examples.map { task.isRegression ? $0.score! / 5 : Float($0.label!) }
            var model = Linear(classes: task.isRegression ? 1 : task.numLabels)
            model.train(xs, ys, epochs: 5, rate: task.isRegression ? 0.05 : 0.3)
            for split in task.devSplits {
                let dev = try GLUE.load(root: root, task: task, split: split)
                let levels = try XCTUnwrap(GLUE.loadDifficulty(root: root, task: task, split: split))
                let fx = dev.examples.map { fz.features($0.textA, $0.textB) }
                if task.isRegression {
                    let predicted = fx.map { model.scores($0)[0] * 5 }
                    let r = Metrics.pearson(predicted, dev.scores)
                    var byLevel: [Int: ([Float], [Float])] = [:]
                    for (i, e) in dev.examples.enumerated() {
                        byLevel[levels[e.index]!, default: ([], [])].0.append(predicted[i])
                        byLevel[levels[e.index]!, default: ([], [])].1.append(e.score!)
                    }
                    let r1 = Metrics.pearson(byLevel[1]!.0, byLevel[1]!.1)
                    let r3 = Metrics.pearson(byLevel[3]!.0, byLevel[3]!.1)
                    report.append(String(format: "%@/%@ pearson %.3f (level 1 %.3f, level 3 %.3f)", task.rawValue, split, r, r1, r3))
                    XCTAssertGreaterThan(r, 0.5, "\(task) should be learnable")
                    XCTAssertGreaterThan(r1, r3, "\(task): level 1 should be easier than level 3")
                    continue
                }
                let predictions = fx.map { model.predict($0) }
                let labels = dev.labels
                let accuracy = Metrics.accuracy(predictions: predictions, labels: labels)
                var counts = [Int](repeating: 0, count: task.numLabels)
                for l in labels { counts[l] += 1 }
                let majority = Double(counts.max()!) / Double(labels.count)
                var levelAcc: [Int: (Int, Int)] = [:]
                for (i, e) in dev.examples.enumerated() {
                    let level = levels[e.index]!
                    let hit = predictions[i] == labels[i] ? 1 : 0
                    hitsByLevel[level] += hit
                    totalByLevel[level] += 1
                    levelAcc[level, default: (0, 0)].0 += hit
                    levelAcc[level, default: (0, 0)].1 += 1
                }
                let per = (1...3).map { Double(levelAcc[$0]!.0) / Double(levelAcc[$0]!.1) }
                let primary = task.evaluate(predictions: predictions, labels: labels)[task.metrics[0]]!
                report.append(String(format: "%@/%@ accuracy %.3f (majority %.3f) %@ %.3f  levels %.2f %.2f %.2f",
                                     task.rawValue, split, accuracy, majority, task.metrics[0].rawValue, primary,
                                     per[0], per[1], per[2]))
                XCTAssertGreaterThan(accuracy, majority + 0.08, "\(task)/\(split) should beat the majority class clearly")
                if task == .cola { XCTAssertGreaterThan(primary, 0.2, "CoLA Matthews correlation") }
            }
        }
        let overall = (1...3).map { Double(hitsByLevel[$0]) / Double(totalByLevel[$0]) }
        report.append(String(format: "overall accuracy by level: %.3f %.3f %.3f", overall[0], overall[1], overall[2]))
        print(report.joined(separator: "\n"))
        XCTAssertGreaterThan(overall[0], overall[2] + 0.08, "level 1 should be clearly easier than level 3")
        XCTAssertGreaterThan(overall[0], overall[1])
        XCTAssertGreaterThan(overall[1], overall[2])
    }
}
