import Foundation

/// A GLUE evaluation metric.
public enum GLUEMetric: String, CaseIterable, Codable, Sendable {
    /// Fraction of exact label matches.
    case accuracy
    /// F1 of the positive class (label 1).
    case f1
    /// Matthews correlation coefficient.
    case matthews
    /// Pearson correlation of predicted and gold scores.
    case pearson
    /// Spearman rank correlation of predicted and gold scores.
    case spearman
}

/// The nine GLUE tasks, named by their official folder names.
public enum GLUETask: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case cola = "CoLA"
    case sst2 = "SST-2"
    case mrpc = "MRPC"
    case stsb = "STS-B"
    case qqp = "QQP"
    case mnli = "MNLI"
    case qnli = "QNLI"
    case rte = "RTE"
    case wnli = "WNLI"

    /// The official folder name under `glue/` (also the raw value).
    public var folderName: String { rawValue }

    public var description: String { rawValue }

    /// Parses a task name: the folder name or its lower-case form with or without the
    /// hyphen (`SST-2`, `sst-2`, `sst2`, `STS-B`, `stsb`, `mnli`, ...).
    ///
    /// Throws a `DataError` listing the nine names when `name` is none of them.
    public init(name: String) throws {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "")
        guard let task = GLUETask.allCases.first(where: {
            $0.rawValue.lowercased().replacingOccurrences(of: "-", with: "") == key
        }) else {
            throw DataError(file: name, "unknown GLUE task (expected one of "
                            + GLUETask.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        self = task
    }

    /// True for two-sentence tasks (all but CoLA and SST-2).
    public var isPair: Bool { self != .cola && self != .sst2 }

    /// True for STS-B, whose gold values are similarity scores in [0, 5].
    public var isRegression: Bool { self == .stsb }

    /// Label strings as written in the files, in id order (the id of a label is its index):
    /// MNLI entailment/neutral/contradiction = 0/1/2; QNLI and RTE entailment/not_entailment
    /// = 0/1; the others "0"/"1". Empty for STS-B.
    public var labelNames: [String] {
        switch self {
        case .cola, .sst2, .mrpc, .qqp, .wnli: return ["0", "1"]
        case .mnli: return ["entailment", "neutral", "contradiction"]
        case .qnli, .rte: return ["entailment", "not_entailment"]
        case .stsb: return []
        }
    }

    /// Number of model outputs: the number of labels, or 1 for the STS-B regression.
    public var numLabels: Int { isRegression ? 1 : labelNames.count }

    /// The metrics the GLUE benchmark reports for this task, the first one primary.
    public var metrics: [GLUEMetric] {
        switch self {
        case .cola: return [.matthews]
        case .mrpc, .qqp: return [.f1, .accuracy]
        case .stsb: return [.pearson, .spearman]
        case .sst2, .mnli, .qnli, .rte, .wnli: return [.accuracy]
        }
    }

    /// Metric names as strings (`metrics.map(\.rawValue)`).
    public var metricNames: [String] { metrics.map(\.rawValue) }

    /// The training split's file stem.
    public var trainSplit: String { "train" }

    /// The labelled evaluation splits: `dev`, or MNLI's `dev_matched` and `dev_mismatched`.
    public var devSplits: [String] {
        self == .mnli ? ["dev_matched", "dev_mismatched"] : ["dev"]
    }

    /// The unlabelled test splits: `test`, or MNLI's `test_matched` and `test_mismatched`.
    public var testSplits: [String] {
        self == .mnli ? ["test_matched", "test_mismatched"] : ["test"]
    }

    /// Every split, train first.
    public var splits: [String] { [trainSplit] + devSplits + testSplits }

    /// Row counts of the published train and dev files (split -> examples).
    public var publishedSizes: [String: Int] {
        switch self {
        case .cola: return ["train": 8551, "dev": 1043]
        case .sst2: return ["train": 67349, "dev": 872]
        case .mrpc: return ["train": 3668, "dev": 408]
        case .stsb: return ["train": 5749, "dev": 1500]
        case .qqp: return ["train": 363846, "dev": 40430]
        case .mnli: return ["train": 392702, "dev_matched": 9815, "dev_mismatched": 9832]
        case .qnli: return ["train": 104743, "dev": 5463]
        case .rte: return ["train": 2490, "dev": 277]
        case .wnli: return ["train": 635, "dev": 71]
        }
    }

    /// Label id of a label string as written in the files, or nil.
    public func labelID(_ text: String) -> Int? {
        labelNames.firstIndex(of: text)
    }

    /// The task's file layout as a `GLUEFormat`: its folder, splits, the columns of each
    /// split file (`GLUE.columns(task:split:)`) and its labels (STS-B: scores in [0, 5]).
    public var format: GLUEFormat {
        GLUEFormat(folderName: folderName, labels: isRegression ? .scores(0...5) : .classes(labelNames),
                   trainSplit: trainSplit, devSplits: devSplits, testSplits: testSplits,
                   columns: Dictionary(uniqueKeysWithValues: splits.map { ($0, GLUE.columns(task: self, split: $0)) }))
    }
}

/// The on-disk layout of a task in the GLUE format (tab-separated files
/// `glue/<folderName>/<split>.tsv`), whether one of the nine GLUE tasks (`GLUETask.format`)
/// or another task written the same way (a BoolQ converted to TSV, say): the folder, the
/// splits, the columns of each split file and what the label column holds.
public struct GLUEFormat: Equatable, Sendable {
    /// What the label column of a labelled split holds.
    public enum Labels: Equatable, Sendable {
        /// Class labels: the label strings as written in the files, in id order (the id of a
        /// label is its index).
        case classes([String])
        /// Gold scores: numbers within the range (a regression task, one model output).
        case scores(ClosedRange<Float>)
    }

    /// The folder under `glue/` holding the split files.
    public var folderName: String
    public var labels: Labels
    /// The training split's file stem.
    public var trainSplit: String
    /// The labelled evaluation splits.
    public var devSplits: [String]
    /// The unlabelled test splits (may be empty).
    public var testSplits: [String]
    /// The column layout of every split file, by split name.
    public var columns: [String: GLUEColumns]

    public init(folderName: String, labels: Labels, trainSplit: String = "train", devSplits: [String] = ["dev"],
                testSplits: [String] = ["test"], columns: [String: GLUEColumns]) {
        self.folderName = folderName
        self.labels = labels
        self.trainSplit = trainSplit
        self.devSplits = devSplits
        self.testSplits = testSplits
        self.columns = columns
    }

    /// A task whose `train.tsv` and `dev.tsv` share the layout `labelled` and whose
    /// `test.tsv`, if any, has the layout `test` (nil: no test split).
    public init(folderName: String, labels: Labels, labelled: GLUEColumns, test: GLUEColumns? = nil) {
        var columns = ["train": labelled, "dev": labelled]
        if let test { columns["test"] = test }
        self.init(folderName: folderName, labels: labels, testSplits: test == nil ? [] : ["test"], columns: columns)
    }

    /// Every split, train first.
    public var splits: [String] { [trainSplit] + devSplits + testSplits }

    /// True for two-text tasks (the training file has a second text column).
    public var isPair: Bool { columns[trainSplit]?.textB != nil }

    /// True when the labels are scores.
    public var isRegression: Bool {
        if case .scores = labels { return true }
        return false
    }

    /// Label strings in id order; empty for scores.
    public var labelNames: [String] {
        if case .classes(let names) = labels { return names }
        return []
    }

    /// Number of model outputs: the number of labels, or 1 for scores.
    public var numLabels: Int { isRegression ? 1 : labelNames.count }

    /// Label id of a label string as written in the files, or nil.
    public func labelID(_ text: String) -> Int? {
        labelNames.firstIndex(of: text)
    }
}

/// One GLUE example. Classification tasks fill `label`, STS-B fills `score`; both are nil
/// in test files.
public struct GLUEExample: Equatable, Sendable {
    /// The sentence (single-sentence tasks) or the first sentence, question or premise.
    public var textA: String
    /// The second sentence or hypothesis; nil for CoLA and SST-2.
    public var textB: String?
    /// Label id (see `GLUETask.labelNames`).
    public var label: Int?
    /// STS-B similarity score in [0, 5].
    public var score: Float?
    /// 0-based position of the row among the file's data rows (header excluded, skipped
    /// malformed rows counted), the index used by the proxy's `difficulty.tsv`.
    public var index: Int

    public init(textA: String, textB: String? = nil, label: Int? = nil, score: Float? = nil, index: Int) {
        self.textA = textA
        self.textB = textB
        self.label = label
        self.score = score
        self.index = index
    }
}

/// The examples of one split file.
public struct GLUESplit: Sendable {
    /// The layout the split was read with.
    public let format: GLUEFormat
    /// The GLUE task whose layout `format` is, or nil for another GLUE-format task.
    public var task: GLUETask? { GLUETask.allCases.first { $0.format == format } }
    /// Split name (`train`, `dev`, `dev_matched`, `test`, ...).
    public let split: String
    public let file: URL
    public let examples: [GLUEExample]
    /// Rows skipped for a wrong column count (QQP only; 0 elsewhere).
    public let skipped: Int
    /// False for test files, which carry no labels.
    public let hasLabels: Bool

    public var count: Int { examples.count }

    /// Label ids in example order (classification splits with labels).
    public var labels: [Int] { examples.map { $0.label ?? -1 } }

    /// Gold scores in example order (STS-B splits with labels).
    public var scores: [Float] { examples.map { $0.score ?? .nan } }
}

/// Column layout of one GLUE split file, as published.
public struct GLUEColumns: Equatable, Sendable {
    /// True when the first line is a header row.
    public var header: Bool
    /// Header row written by the proxy and expected in the published files.
    public var headerNames: [String]
    /// Column of the first text.
    public var textA: Int
    /// Column of the second text (pair tasks).
    public var textB: Int?
    /// Column of the label or score: a non-negative index, or -1 for the last column; nil
    /// for test files.
    public var label: Int?
    /// Minimum number of columns a data row must have.
    public var minColumns: Int
    /// QQP: rows whose column count differs from `minColumns` are skipped and counted
    /// rather than rejected.
    public var skipMalformed: Bool

    /// `minColumns` defaults to the number of header names, or (without names) to one more
    /// than the highest column read.
    public init(header: Bool = true, headerNames: [String], textA: Int, textB: Int? = nil, label: Int?,
                minColumns: Int? = nil, skipMalformed: Bool = false) {
        self.header = header
        self.headerNames = headerNames
        self.textA = textA
        self.textB = textB
        self.label = label
        self.minColumns = minColumns
            ?? (headerNames.isEmpty ? ([textA, textB ?? 0, label ?? 0].max() ?? 0) + 1 : headerNames.count)
        self.skipMalformed = skipMalformed
    }
}

/// Reader for the GLUE task folders under a dataset root (`DIR/glue/<Task>/<split>.tsv`).
///
/// Files are split on line feeds (a trailing carriage return is dropped) and on tabs only:
/// there is no quoting, and a quote character is text. A UTF-8 byte-order mark at the start
/// of a file is skipped (MRPC's train and dev files start with one). Columns follow the
/// published files:
///
/// | task | train/dev | test |
/// |---|---|---|
/// | CoLA | no header: source, label, original mark, sentence | header `index sentence` |
/// | SST-2 | `sentence label` | `index sentence` |
/// | MRPC | `Quality #1 ID #2 ID #1 String #2 String` | `index #1 ID #2 ID #1 String #2 String` |
/// | STS-B | 10 columns, texts 7 and 8, score last | 9 columns, texts 7 and 8 |
/// | QQP | `id qid1 qid2 question1 question2 is_duplicate` | `id question1 question2` |
/// | MNLI | train 12, dev 16 columns, texts 8 and 9, label last | 10 columns, texts 8 and 9 |
/// | QNLI | `index question sentence label` | `index question sentence` |
/// | RTE, WNLI | `index sentence1 sentence2 label` | `index sentence1 sentence2` |
///
/// Column numbers are 0-based.
public enum GLUE {
    /// Where the published data comes from, for error messages.
    public static let downloadHint =
        "Download the GLUE task zips (https://gluebenchmark.com/tasks, or the script "
        + "download_glue_data.py) and unzip them so that each task folder (CoLA, SST-2, MRPC, STS-B, "
        + "QQP, MNLI, QNLI, RTE, WNLI) sits under <root>/glue/; or write the synthetic proxy data with "
        + "`moebench data proxy --out <root>`"

    /// `root/glue/<Task>`.
    public static func taskFolder(root: URL, task: GLUETask) -> URL {
        taskFolder(root: root, folderName: task.folderName)
    }

    /// `root/glue/<folderName>`.
    public static func taskFolder(root: URL, folderName: String) -> URL {
        DatasetLayout.glue(root).appendingPathComponent(folderName, isDirectory: true)
    }

    /// `root/glue/<Task>/<split>.tsv`.
    public static func file(root: URL, task: GLUETask, split: String) -> URL {
        file(root: root, folderName: task.folderName, split: split)
    }

    /// `root/glue/<folderName>/<split>.tsv`.
    public static func file(root: URL, folderName: String, split: String) -> URL {
        taskFolder(root: root, folderName: folderName).appendingPathComponent("\(split).tsv")
    }

    /// The column layout of `task`'s `split` file (split names as in `GLUETask.splits`).
    public static func columns(task: GLUETask, split: String) -> GLUEColumns {
        let test = split.hasPrefix("test")
        switch task {
        case .cola:
            return test
                ? GLUEColumns(header: true, headerNames: ["index", "sentence"], textA: 1, textB: nil,
                              label: nil, minColumns: 2, skipMalformed: false)
                : GLUEColumns(header: false, headerNames: [], textA: 3, textB: nil,
                              label: 1, minColumns: 4, skipMalformed: false)
        case .sst2:
            return test
                ? GLUEColumns(header: true, headerNames: ["index", "sentence"], textA: 1, textB: nil,
                              label: nil, minColumns: 2, skipMalformed: false)
                : GLUEColumns(header: true, headerNames: ["sentence", "label"], textA: 0, textB: nil,
                              label: 1, minColumns: 2, skipMalformed: false)
        case .mrpc:
            return test
                ? GLUEColumns(header: true, headerNames: ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                              textA: 3, textB: 4, label: nil, minColumns: 5, skipMalformed: false)
                : GLUEColumns(header: true, headerNames: ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                              textA: 3, textB: 4, label: 0, minColumns: 5, skipMalformed: false)
        case .stsb:
            let names = ["index", "genre", "filename", "year", "old_index", "source1", "source2",
                         "sentence1", "sentence2"]
            return test
                ? GLUEColumns(header: true, headerNames: names, textA: 7, textB: 8, label: nil,
                              minColumns: 9, skipMalformed: false)
                : GLUEColumns(header: true, headerNames: names + ["score"], textA: 7, textB: 8, label: -1,
                              minColumns: 10, skipMalformed: false)
        case .qqp:
            return test
                ? GLUEColumns(header: true, headerNames: ["id", "question1", "question2"], textA: 1, textB: 2,
                              label: nil, minColumns: 3, skipMalformed: true)
                : GLUEColumns(header: true, headerNames: ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
                              textA: 3, textB: 4, label: 5, minColumns: 6, skipMalformed: true)
        case .mnli:
            let base = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
                        "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
            if test {
                return GLUEColumns(header: true, headerNames: base, textA: 8, textB: 9, label: nil,
                                   minColumns: 10, skipMalformed: false)
            }
            if split == "train" {
                return GLUEColumns(header: true, headerNames: base + ["label1", "gold_label"], textA: 8, textB: 9,
                                   label: -1, minColumns: 12, skipMalformed: false)
            }
            return GLUEColumns(header: true,
                               headerNames: base + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
                               textA: 8, textB: 9, label: -1, minColumns: 16, skipMalformed: false)
        case .qnli:
            return test
                ? GLUEColumns(header: true, headerNames: ["index", "question", "sentence"], textA: 1, textB: 2,
                              label: nil, minColumns: 3, skipMalformed: false)
                : GLUEColumns(header: true, headerNames: ["index", "question", "sentence", "label"], textA: 1,
                              textB: 2, label: 3, minColumns: 4, skipMalformed: false)
        case .rte, .wnli:
            return test
                ? GLUEColumns(header: true, headerNames: ["index", "sentence1", "sentence2"], textA: 1, textB: 2,
                              label: nil, minColumns: 3, skipMalformed: false)
                : GLUEColumns(header: true, headerNames: ["index", "sentence1", "sentence2", "label"], textA: 1,
                              textB: 2, label: 3, minColumns: 4, skipMalformed: false)
        }
    }

    /// Loads `root/glue/<Task>/<split>.tsv`.
    ///
    /// Throws a `DataError` when the task folder or file is missing (saying where to get
    /// GLUE and where to put it), when the split is not one of the task's, when a row has
    /// too few columns (file, line and expected count; QQP skips and counts such rows), or
    /// when a label is not one of the task's labels / a score is not a number in [0, 5]
    /// (file and line).
    public static func load(root: URL, task: GLUETask, split: String) throws -> GLUESplit {
        try load(root: root, format: task.format, split: split)
    }

    /// Loads `root/glue/<format.folderName>/<split>.tsv` of a task in the GLUE format (errors
    /// as the other `load`'s; a score outside the format's range is rejected).
    public static func load(root: URL, format: GLUEFormat, split: String) throws -> GLUESplit {
        let folder = taskFolder(root: root, folderName: format.folderName)
        let url = file(root: root, folderName: format.folderName, split: split)
        guard format.splits.contains(split), let layout = format.columns[split] else {
            throw DataError(file: url.path, "unknown split \"\(split)\" for \(format.folderName) (expected one of "
                            + format.splits.joined(separator: ", ") + ")")
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: folder.path, "GLUE task folder not found. "
                            + downloadHint.replacingOccurrences(of: "<root>", with: root.path))
        }
        guard fm.fileExists(atPath: url.path) else {
            throw DataError(file: url.path, "GLUE split file not found. "
                            + downloadHint.replacingOccurrences(of: "<root>", with: root.path))
        }
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw DataError(file: url.path, "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, format: format, layout: layout, split: split, file: url)
    }

    /// Parses the bytes of a split file (see `load`); `file` names it in errors.
    public static func parse(_ data: Data, task: GLUETask, split: String, file: URL) throws -> GLUESplit {
        try parse(data, format: task.format, layout: columns(task: task, split: split), split: split, file: file)
    }

    /// Parses the bytes of a split file of a GLUE-format task with the columns `layout`;
    /// `file` names it in errors.
    public static func parse(_ data: Data, format: GLUEFormat, layout: GLUEColumns, split: String,
                             file: URL) throws -> GLUESplit {
        let path = file.path
        var examples: [GLUEExample] = []
        var skipped = 0
        var failure: DataError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress, raw.count > 0 else { return }
            let n = raw.count
            var pos = 0
            // UTF-8 byte-order mark.
            if n >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }
            var lineNo = 0
            var row = 0
            var fields: [(Int, Int)] = []
            fields.reserveCapacity(16)
            while pos < n {
                var end = pos
                while end < n && base[end] != 0x0A { end += 1 }
                let next = end + 1
                var stop = end
                if stop > pos && base[stop - 1] == 0x0D { stop -= 1 }
                lineNo += 1
                defer { pos = next }
                if layout.header && lineNo == 1 { continue }
                fields.removeAll(keepingCapacity: true)
                var start = pos
                var i = pos
                while i < stop {
                    if base[i] == 0x09 { fields.append((start, i)); start = i + 1 }
                    i += 1
                }
                fields.append((start, stop))
                // Blank lines at the end of a file are not rows.
                if stop == pos && isRestBlank(base, from: next, count: n) { break }
                let location = "line \(lineNo)"
                let rowIndex = row
                row += 1
                if layout.skipMalformed {
                    if fields.count != layout.minColumns { skipped += 1; continue }
                } else if fields.count < layout.minColumns {
                    failure = DataError(file: path, location: location,
                                        "\(fields.count) column\(fields.count == 1 ? "" : "s"), expected at least "
                                        + "\(layout.minColumns) (\(describe(layout))), tab-separated")
                    return
                }
                func text(_ c: Int) -> String {
                    let (a, b) = fields[c]
                    return String(decoding: UnsafeBufferPointer(start: base + a, count: b - a), as: UTF8.self)
                }
                var example = GLUEExample(textA: text(layout.textA),
                                          textB: layout.textB.map { text($0) }, index: rowIndex)
                if let labelColumn = layout.label {
                    let raw = text(labelColumn < 0 ? fields.count - 1 : labelColumn)
                    switch format.labels {
                    case .scores(let range):
                        guard let v = Float(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
                            failure = DataError(file: path, location: location,
                                                "score \"\(raw)\" is not a number in "
                                                + String(format: "[%g, %g]", Double(range.lowerBound), Double(range.upperBound)))
                            return
                        }
                        example.score = v
                    case .classes(let names):
                        guard let id = names.firstIndex(of: raw) else {
                            failure = DataError(file: path, location: location,
                                                "label \"\(raw)\" is not one of " + names.joined(separator: ", "))
                            return
                        }
                        example.label = id
                    }
                }
                examples.append(example)
            }
        }
        if let failure { throw failure }
        guard !examples.isEmpty else {
            throw DataError(file: file.path, "holds no examples: expected at least one row after the header")
        }
        return GLUESplit(format: format, split: split, file: file, examples: examples, skipped: skipped,
                         hasLabels: layout.label != nil)
    }

    /// The proxy's difficulty levels for one split: `glue/<Task>/difficulty.tsv` (header
    /// `split<TAB>index<TAB>level`, levels 1-3) rows of `split`, as row index -> level; nil
    /// when the file is absent (the published data has none).
    public static func loadDifficulty(root: URL, task: GLUETask, split: String) throws -> [Int: Int]? {
        try loadDifficulty(root: root, folderName: task.folderName, split: split)
    }

    /// `loadDifficulty` for the task folder `glue/<folderName>`, reading the side file
    /// `fileName` (same format) there.
    public static func loadDifficulty(root: URL, folderName: String, split: String,
                                      fileName: String = "difficulty.tsv") throws -> [Int: Int]? {
        let url = taskFolder(root: root, folderName: folderName).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path),
              let text = String(data: data, encoding: .utf8) else {
            throw DataError(file: url.path, "cannot read as UTF-8 text")
        }
        var levels: [Int: Int] = [:]
        // Split on line-feed scalars: a CRLF pair is one Character in Swift.
        for (k, scalars) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(String.UnicodeScalarView(scalars.last == "\r" ? scalars.dropLast() : scalars))
            if line.isEmpty { continue }
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            if k == 0 {
                guard cols == ["split", "index", "level"] else {
                    throw DataError(file: url.path, location: "line 1", "expected the header split<TAB>index<TAB>level")
                }
                continue
            }
            guard cols.count == 3, let index = Int(cols[1]), index >= 0,
                  let level = Int(cols[2]), (1...3).contains(level) else {
                throw DataError(file: url.path, location: "line \(k + 1)",
                                "expected split<TAB>index<TAB>level with an index >= 0 and a level of 1-3")
            }
            if cols[0] == split { levels[index] = level }
        }
        return levels
    }

    /// Checks the GLUE task folders under `root` against the published row counts (GLUE
    /// publishes no checksums): each train and dev file must load and hold the published
    /// number of examples (for QQP, examples plus skipped malformed rows may match instead).
    /// A proxy root (`PROXY.md`) reports each task folder present as `proxy`. Files that do
    /// not load are reported as `mismatch` with the reader's error.
    public static func verify(root: URL) -> [ChecksumResult] {
        let fm = FileManager.default
        let glue = DatasetLayout.glue(root)
        guard fm.fileExists(atPath: glue.path) else {
            return [ChecksumResult(item: DatasetLayout.glueFolder, path: glue.path, status: .notFound,
                                   detail: "no glue/ folder. " + downloadHint.replacingOccurrences(of: "<root>", with: root.path))]
        }
        let isProxy = DatasetLayout.isProxy(root)
        var results: [ChecksumResult] = []
        for task in GLUETask.allCases {
            let folder = taskFolder(root: root, task: task)
            let item = "glue/\(task.rawValue)"
            guard fm.fileExists(atPath: folder.path) else {
                results.append(ChecksumResult(item: item, path: folder.path, status: .notFound,
                                              detail: "task folder missing"))
                continue
            }
            if isProxy {
                results.append(ChecksumResult(item: item, path: folder.path, status: .proxy,
                                              detail: "synthetic proxy data (PROXY.md at the root), not the published GLUE"))
                continue
            }
            for split in [task.trainSplit] + task.devSplits {
                let url = file(root: root, task: task, split: split)
                let expected = task.publishedSizes[split]!
                do {
                    let s = try load(root: root, task: task, split: split)
                    let ok = s.count == expected || (s.skipped > 0 && s.count + s.skipped == expected)
                    let skipped = s.skipped > 0 ? " (\(s.skipped) malformed rows skipped)" : ""
                    results.append(ChecksumResult(
                        item: "\(item)/\(split).tsv", path: url.path, status: ok ? .ok : .mismatch,
                        detail: ok ? "\(s.count) examples\(skipped) (row count check; GLUE publishes no checksums)"
                            : "\(s.count) examples\(skipped), expected \(expected)"))
                } catch {
                    results.append(ChecksumResult(item: "\(item)/\(split).tsv", path: url.path,
                                                  status: fm.fileExists(atPath: url.path) ? .mismatch : .notFound,
                                                  detail: "\(error)"))
                }
            }
        }
        return results
    }

    static func describe(_ layout: GLUEColumns) -> String {
        if layout.header { return "columns " + layout.headerNames.joined(separator: ", ") }
        if !layout.headerNames.isEmpty { return "columns " + layout.headerNames.joined(separator: ", ") + "; no header" }
        return "columns source, label, original mark, sentence; no header"
    }

    static func isRestBlank(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Bool {
        var i = from
        while i < count {
            let b = base[i]
            if b != 0x0A && b != 0x0D { return false }
            i += 1
        }
        return true
    }
}
