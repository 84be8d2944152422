import Foundation
import XCTest
@testable import Data

/// The GLUE loader on small files written here in each task's published column layout.
final class GlueLoaderTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("glue-loader-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func write(_ task: GLUETask, _ split: String, _ text: String, bom: Bool = false) throws {
        let dir = GLUE.taskFolder(root: root, task: task)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var data = Data(bom ? [0xEF, 0xBB, 0xBF] : [])
        data.append(Data(text.utf8))
        try data.write(to: dir.appendingPathComponent("\(split).tsv"))
    }

    func testCoLANoHeaderFourColumns() throws {
        try write(.cola, "train", """
            gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.
            gj04\t0\t*\tThey drank the pub.
            r-67\t1\t\tShe said "hi" to me.

            """)
        let s = try GLUE.load(root: root, task: .cola, split: "train")
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.examples[0], GLUEExample(
            textA: "Our friends won't buy this analysis, let alone the next one we propose.", label: 1, index: 0))
        XCTAssertEqual(s.examples[1].textA, "They drank the pub.")
        XCTAssertEqual(s.examples[1].label, 0)
        XCTAssertNil(s.examples[1].textB)
        // Quotes are text.
        XCTAssertEqual(s.examples[2].textA, "She said \"hi\" to me.")
        XCTAssertEqual(s.skipped, 0)
        XCTAssertTrue(s.hasLabels)
    }

    func testCoLATestHasHeaderAndNoLabels() throws {
        try write(.cola, "test", "index\tsentence\n0\tBill whistled past the house.\n1\tThe car honked.\n")
        let s = try GLUE.load(root: root, task: .cola, split: "test")
        XCTAssertEqual(s.examples.map(\.textA), ["Bill whistled past the house.", "The car honked."])
        XCTAssertEqual(s.examples.map(\.label), [nil, nil])
        XCTAssertFalse(s.hasLabels)
    }

    func testSST2HeaderAndTrailingSpace() throws {
        try write(.sst2, "dev", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nunflinchingly bleak \t0\n")
        let s = try GLUE.load(root: root, task: .sst2, split: "dev")
        XCTAssertEqual(s.examples.map(\.textA), ["it 's a charming and often affecting journey . ", "unflinchingly bleak "])
        XCTAssertEqual(s.labels, [1, 0])
    }

    func testMRPCLabelFirstWithByteOrderMark() throws {
        try write(.mrpc, "train", """
            Quality\t#1 ID\t#2 ID\t#1 String\t#2 String
            1\t702876\t702977\tAmrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .\tReferring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .
            0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .

            """, bom: true)
        let s = try GLUE.load(root: root, task: .mrpc, split: "train")
        XCTAssertEqual(s.labels, [1, 0])
        XCTAssertEqual(s.examples[0].textA,
                       "Amrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .")
        XCTAssertEqual(s.examples[1].textB,
                       "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .")
        // Without the BOM too.
        try write(.mrpc, "dev", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n")
        XCTAssertEqual(try GLUE.load(root: root, task: .mrpc, split: "dev").labels, [1])
        // Test file: index first, no label.
        try write(.mrpc, "test", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tx y\tz w\n")
        let t = try GLUE.load(root: root, task: .mrpc, split: "test")
        XCTAssertEqual(t.examples, [GLUEExample(textA: "x y", textB: "z w", index: 0)])
    }

    func testSTSBColumnsSevenEightAndLastScore() throws {
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        try write(.stsb, "train", header
                  + "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n"
                  + "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a flute.\tA man is playing a bamboo flute.\t3.800\n"
                  // An extra column before the score: the score is still the last column.
                  + "2\tmain-forum\tdeft-forum\t2014\t0005\tnone\tnone\tA b.\tC d.\textra\t0.5\n")
        let s = try GLUE.load(root: root, task: .stsb, split: "train")
        XCTAssertEqual(s.examples.map(\.textA), ["A plane is taking off.", "A man is playing a flute.", "A b."])
        XCTAssertEqual(s.examples.map(\.textB), ["An air plane is taking off.", "A man is playing a bamboo flute.", "C d."])
        XCTAssertEqual(s.scores, [5.0, 3.8, 0.5])
        XCTAssertEqual(s.examples.map(\.label), [nil, nil, nil])
        let testHeader = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
        try write(.stsb, "test", testHeader + "0\tmain-news\theadlines\t2015\t0001\tnone\tnone\tP q.\tR s.\n")
        let t = try GLUE.load(root: root, task: .stsb, split: "test")
        XCTAssertEqual(t.examples, [GLUEExample(textA: "P q.", textB: "R s.", index: 0)])
    }

    func testSTSBScoreOutOfRangeIsAnError() throws {
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        try write(.stsb, "dev", header + "0\tg\tf\ty\t1\tn\tn\ta\tb\t5.5\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .stsb, split: "dev")) { error in
            let e = error as! DataError
            XCTAssertTrue(e.file.hasSuffix("glue/STS-B/dev.tsv"), e.description)
            XCTAssertEqual(e.location, "line 2")
            XCTAssertTrue(e.message.contains("5.5"), e.description)
        }
    }

    func testQQPMalformedRowsSkippedAndCounted() throws {
        try write(.qqp, "train", """
            id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate
            0\t1\t2\tWhat is the step by step guide to invest in share market in india?\tWhat is the step by step guide to invest in share market?\t0
            1\t3\t4\tHow do I read and find my YouTube comments?
            How can I see all my Youtube comments?\t1
            2\t5\t6\tWhy am I mentally very lonely? How can I solve it?\tFind the remainder when [math]23^{24}[/math] is divided by 24,23?\t0
            3\t7\t8\tToo\tmany\tcolumns\there\t1
            4\t9\t10\tHow can I be a good geologist?\tWhat should I do to be a great geologist?\t1

            """)
        let s = try GLUE.load(root: root, task: .qqp, split: "train")
        XCTAssertEqual(s.skipped, 3)
        XCTAssertEqual(s.labels, [0, 0, 1])
        // The row index counts the skipped rows.
        XCTAssertEqual(s.examples.map(\.index), [0, 3, 5])
        XCTAssertEqual(s.examples[2].textA, "How can I be a good geologist?")
        XCTAssertEqual(s.examples[2].textB, "What should I do to be a great geologist?")
        try write(.qqp, "test", "id\tquestion1\tquestion2\n0\tHow does the Surface Pro himself 4 compare?\tWhy did Microsoft choose core m3?\n1\tbroken\n")
        let t = try GLUE.load(root: root, task: .qqp, split: "test")
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t.skipped, 1)
        XCTAssertFalse(t.hasLabels)
    }

    func testMNLITrainTwelveDevSixteenColumnsLabelLast() throws {
        let base = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2"
        try write(.mnli, "train", base + "\tlabel1\tgold_label\n"
                  + "0\t31193\t31193n\tgovernment\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tConceptually cream skimming has two basic dimensions.\tProduct and geography are what make cream skimming work. \tneutral\tneutral\n"
                  + "1\t101457\t101457e\ttelephone\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tyou know during the season\tYou lose the things to the following level.\tentailment\tentailment\n"
                  + "2\t134793\t134793e\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tOne of our number will carry out your instructions.\tA member of my team will execute your orders.\tentailment\tcontradiction\n")
        let s = try GLUE.load(root: root, task: .mnli, split: "train")
        XCTAssertEqual(s.labels, [1, 0, 2])
        XCTAssertEqual(s.examples[0].textA, "Conceptually cream skimming has two basic dimensions.")
        XCTAssertEqual(s.examples[0].textB, "Product and geography are what make cream skimming work. ")
        try write(.mnli, "dev_matched", base + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                  + "0\t63735\t63735n\tslate\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe new rights are nice enough\tEveryone really likes the newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n")
        let d = try GLUE.load(root: root, task: .mnli, split: "dev_matched")
        XCTAssertEqual(d.labels, [1])
        XCTAssertEqual(d.examples[0].textB, "Everyone really likes the newest benefits ")
        // A dev row with only 12 columns is too short.
        try write(.mnli, "dev_mismatched", base + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                  + "0\t1\t1n\tletters\ta\tb\tc\td\tP.\tH.\tneutral\tneutral\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .mnli, split: "dev_mismatched")) { error in
            let e = error as! DataError
            XCTAssertTrue(e.file.hasSuffix("glue/MNLI/dev_mismatched.tsv"), e.description)
            XCTAssertEqual(e.location, "line 2")
            XCTAssertTrue(e.message.contains("12 columns, expected at least 16"), e.description)
        }
        try write(.mnli, "test_matched", base + "\n0\t1\t1\tslate\ta\tb\tc\td\tP one.\tH one.\n")
        let t = try GLUE.load(root: root, task: .mnli, split: "test_matched")
        XCTAssertEqual(t.examples, [GLUEExample(textA: "P one.", textB: "H one.", index: 0)])
    }

    func testQNLIRTEWNLIIndexFirstLabelLast() throws {
        try write(.qnli, "dev", "index\tquestion\tsentence\tlabel\n0\tWhat came into force after the new constitution was herald?\tAs of that day, the new constitution heralding the Second Republic came into force.\tentailment\n1\tWhat is the first major city?\tThe Missouri river flows.\tnot_entailment\n")
        XCTAssertEqual(try GLUE.load(root: root, task: .qnli, split: "dev").labels, [0, 1])
        try write(.rte, "train", "index\tsentence1\tsentence2\tlabel\n0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment\n1\tA place of sorrow.\tPope buried.\tentailment\n")
        let r = try GLUE.load(root: root, task: .rte, split: "train")
        XCTAssertEqual(r.labels, [1, 0])
        XCTAssertEqual(r.examples[1].textB, "Pope buried.")
        try write(.wnli, "train", "index\tsentence1\tsentence2\tlabel\r\n0\tI stuck a pin through a carrot. When I pulled the pin out, it had a hole.\tThe carrot had a hole.\t1\r\n")
        let w = try GLUE.load(root: root, task: .wnli, split: "train")
        XCTAssertEqual(w.labels, [1])
        // The carriage return of a CRLF line is not part of the label or the text.
        XCTAssertEqual(w.examples[0].textB, "The carrot had a hole.")
        try write(.wnli, "test", "index\tsentence1\tsentence2\n0\tA.\tB.\n")
        XCTAssertEqual(try GLUE.load(root: root, task: .wnli, split: "test").examples.map(\.textB), ["B."])
    }

    func testTooFewColumnsNamesFileLineAndCount() throws {
        try write(.rte, "dev", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .rte, split: "dev")) { error in
            let e = error as! DataError
            XCTAssertTrue(e.file.hasSuffix("glue/RTE/dev.tsv"), e.description)
            XCTAssertEqual(e.location, "line 3")
            XCTAssertTrue(e.message.contains("2 columns, expected at least 4"), e.description)
            XCTAssertTrue(e.description.contains("RTE/dev.tsv: line 3:"), e.description)
        }
        // CoLA with a header-like first line is caught as a bad label on line 1.
        try write(.cola, "dev", "source\tlabel\tmark\tsentence\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .cola, split: "dev")) { error in
            let e = error as! DataError
            XCTAssertEqual(e.location, "line 1")
            XCTAssertTrue(e.message.contains("label \"label\""), e.description)
        }
    }

    func testBadLabelIsAnError() throws {
        try write(.mnli, "train", "h\n0\t1\t1e\tfiction\ta\tb\tc\td\tP.\tH.\tentailment\tmaybe\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .mnli, split: "train")) { error in
            let e = error as! DataError
            XCTAssertEqual(e.location, "line 2")
            XCTAssertTrue(e.message.contains("\"maybe\" is not one of entailment, neutral, contradiction"), e.description)
        }
    }

    func testMissingFolderAndFileSayWhereToGetGLUE() throws {
        XCTAssertThrowsError(try GLUE.load(root: root, task: .cola, split: "train")) { error in
            let e = error as! DataError
            XCTAssertTrue(e.file.hasSuffix("glue/CoLA"), e.description)
            XCTAssertTrue(e.message.contains("gluebenchmark.com"), e.description)
            XCTAssertTrue(e.message.contains("\(self.root.path)/glue/"), e.description)
            XCTAssertTrue(e.message.contains("moebench data proxy"), e.description)
        }
        try write(.cola, "train", "s\t1\t\tA.\n")
        XCTAssertThrowsError(try GLUE.load(root: root, task: .cola, split: "dev")) { error in
            let e = error as! DataError
            XCTAssertTrue(e.file.hasSuffix("glue/CoLA/dev.tsv"), e.description)
            XCTAssertTrue(e.message.contains("not found"), e.description)
        }
        XCTAssertThrowsError(try GLUE.load(root: root, task: .cola, split: "dev_matched")) { error in
            XCTAssertTrue((error as! DataError).message.contains("unknown split"), "\(error)")
        }
    }

    func testTaskNames() throws {
        XCTAssertEqual(try GLUETask(name: "SST-2"), .sst2)
        XCTAssertEqual(try GLUETask(name: "sst2"), .sst2)
        XCTAssertEqual(try GLUETask(name: "sts-b"), .stsb)
        XCTAssertEqual(try GLUETask(name: "MNLI"), .mnli)
        XCTAssertEqual(try GLUETask(name: "cola"), .cola)
        XCTAssertThrowsError(try GLUETask(name: "SQuAD")) { error in
            let e = error as! DataError
            XCTAssertEqual(e.file, "SQuAD")
            XCTAssertTrue(e.message.contains("unknown GLUE task"), e.description)
            XCTAssertTrue(e.message.contains("CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI"), e.description)
        }
        XCTAssertEqual(GLUETask.allCases.count, 9)
        XCTAssertEqual(GLUETask.mnli.devSplits, ["dev_matched", "dev_mismatched"])
        XCTAssertEqual(GLUETask.rte.devSplits, ["dev"])
        XCTAssertEqual(GLUETask.mnli.labelID("contradiction"), 2)
        XCTAssertEqual(GLUETask.qnli.labelID("not_entailment"), 1)
        XCTAssertEqual(GLUETask.stsb.numLabels, 1)
        XCTAssertEqual(GLUETask.mnli.numLabels, 3)
        XCTAssertEqual(GLUETask.mrpc.metricNames, ["f1", "accuracy"])
        XCTAssertEqual(GLUETask.cola.metrics, [.matthews])
        XCTAssertEqual(GLUETask.stsb.metrics, [.pearson, .spearman])
    }

    func testVerifyComparesPublishedRowCounts() throws {
        // No glue/ folder at all.
        let none = GLUE.verify(root: root)
        XCTAssertEqual(none.map(\.status), [.notFound])
        XCTAssertTrue(none[0].detail.contains("gluebenchmark.com"), none[0].detail)
        // A CoLA folder with too few rows, a broken RTE file, the rest missing.
        try write(.cola, "train", "s\t1\t\tA.\n")
        try write(.cola, "dev", "s\t0\t*\tB.\n")
        try write(.rte, "train", "index\tsentence1\tsentence2\tlabel\n0\tonly\n")
        let results = GLUE.verify(root: root)
        let cola = results.first { $0.item == "glue/CoLA/train.tsv" }!
        XCTAssertEqual(cola.status, .mismatch)
        XCTAssertEqual(cola.detail, "1 examples, expected 8551")
        let rte = results.first { $0.item == "glue/RTE/train.tsv" }!
        XCTAssertEqual(rte.status, .mismatch)
        XCTAssertTrue(rte.detail.contains("line 2"), rte.detail)
        XCTAssertEqual(results.first { $0.item == "glue/RTE/dev.tsv" }!.status, .notFound)
        XCTAssertEqual(results.first { $0.item == "glue/MNLI" }!.status, .notFound)
        // A proxy root is reported as proxy data.
        try Data("# Synthetic\n".utf8).write(to: DatasetLayout.proxyMarkerFile(root))
        let proxy = GLUE.verify(root: root)
        XCTAssertEqual(proxy.first { $0.item == "glue/CoLA" }!.status, .proxy)
    }

    func testDifficultySideFile() throws {
        try write(.rte, "dev", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
        XCTAssertNil(try GLUE.loadDifficulty(root: root, task: .rte, split: "dev"))
        let url = GLUE.taskFolder(root: root, task: .rte).appendingPathComponent("difficulty.tsv")
        try Data("split\tindex\tlevel\r\ntrain\t0\t2\r\ndev\t0\t3\r\ndev\t1\t1\r\n".utf8).write(to: url)
        XCTAssertEqual(try GLUE.loadDifficulty(root: root, task: .rte, split: "dev"), [0: 3, 1: 1])
        try Data("split\tindex\tlevel\ndev\t0\t4\n".utf8).write(to: url)
        XCTAssertThrowsError(try GLUE.loadDifficulty(root: root, task: .rte, split: "dev")) { error in
            XCTAssertEqual((error as! DataError).location, "line 2")
        }
    }

    /// Each GLUE task's `format` reads its files as the task does; `GLUETask.format` of a split
    /// names the task back.
    func testGLUETaskFormatsMatchTheTasks() throws {
        for task in GLUETask.allCases {
            let f = task.format
            XCTAssertEqual(f.folderName, task.folderName)
            XCTAssertEqual(f.splits, task.splits)
            XCTAssertEqual(f.isPair, task.isPair, "\(task)")
            XCTAssertEqual(f.isRegression, task.isRegression)
            XCTAssertEqual(f.labelNames, task.labelNames)
            XCTAssertEqual(f.numLabels, task.numLabels)
            for split in task.splits { XCTAssertEqual(f.columns[split], GLUE.columns(task: task, split: split)) }
        }
        try write(.rte, "dev", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tnot_entailment\n")
        let s = try GLUE.load(root: root, format: GLUETask.rte.format, split: "dev")
        XCTAssertEqual(s.task, .rte)
        XCTAssertEqual(s.examples, try GLUE.load(root: root, task: .rte, split: "dev").examples)
    }

    /// A task that is none of the nine, in its own layout: no header, label first, scores in
    /// a range of its own; its own difficulty side file.
    func testOtherGLUEFormatTask() throws {
        let format = GLUEFormat(folderName: "Rating", labels: .scores(1...10),
                                labelled: GLUEColumns(header: false, headerNames: [], textA: 1, label: 0))
        XCTAssertEqual(format.columns["dev"]?.minColumns, 2)
        XCTAssertFalse(format.isPair)
        XCTAssertEqual(format.splits, ["train", "dev"])
        let dir = GLUE.taskFolder(root: root, folderName: "Rating")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("7\tgood film\n2.5\tdull\textra column\n".utf8).write(to: dir.appendingPathComponent("train.tsv"))
        let s = try GLUE.load(root: root, format: format, split: "train")
        XCTAssertNil(s.task)
        XCTAssertEqual(s.examples.map(\.textA), ["good film", "dull"])
        XCTAssertEqual(s.scores, [7, 2.5])
        try Data("0.5\ttoo low\n".utf8).write(to: dir.appendingPathComponent("dev.tsv"))
        XCTAssertThrowsError(try GLUE.load(root: root, format: format, split: "dev")) { error in
            let e = error as! DataError
            XCTAssertEqual(e.location, "line 1")
            XCTAssertEqual(e.message, "score \"0.5\" is not a number in [1, 10]")
        }
        XCTAssertThrowsError(try GLUE.load(root: root, format: format, split: "test")) { error in
            XCTAssertTrue("\(error)".contains("unknown split \"test\" for Rating (expected one of train, dev)"), "\(error)")
        }
        try Data("split\tindex\tlevel\ndev\t0\t2\n".utf8).write(to: dir.appendingPathComponent("levels.tsv"))
        XCTAssertNil(try GLUE.loadDifficulty(root: root, folderName: "Rating", split: "dev"))
        XCTAssertEqual(try GLUE.loadDifficulty(root: root, folderName: "Rating", split: "dev", fileName: "levels.tsv"), [0: 2])
    }
}
