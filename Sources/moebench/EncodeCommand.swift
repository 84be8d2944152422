import ArgumentParser
import Data
import Foundation
import Pretrained

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode sentences (one per line on standard input) with a pretrained BERT encoder.",
        discussion: """
            For each line prints the token ids ([CLS] ... [SEP]) and the mean-pooled last hidden \
            state (mean over all tokens, [CLS] and [SEP] included, before normalisation). With \
            --json, one object per line: {"sentence": ..., "ids": [...], "embedding": [...]}. \
            `make pretrained` installs all-MiniLM-L6-v2 into \(PretrainedFolder.defaultPath).
            """)

    @Option(help: "Model folder with config.json, model.safetensors and vocab.txt.")
    var model = PretrainedFolder.defaultPath
    @Flag(help: "Print one JSON object per line.") var json = false
    @Option(help: "Sentences per forward pass.") var batch = 16
    @OptionGroup var engine: EngineOptions

    func run() throws {
        try engine.apply()
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        let encoder = try SentenceEncoder(directory: URL(fileURLWithPath: model))
        var pending: [(String, [Int])] = []
        var lineNumber = 0
        func flush() {
            let embeddings = encoder.embed(pending.map(\.1))
            for ((sentence, ids), e) in zip(pending, embeddings) {
                print(json ? jsonLine(sentence, ids, e) : textLines(sentence, ids, e))
            }
            pending.removeAll(keepingCapacity: true)
        }
        while var line = readLine(strippingNewline: true) {
            lineNumber += 1
            if line.hasSuffix("\r") { line.removeLast() }
            let ids = encoder.ids(line)
            guard ids.count <= encoder.maxLength else {
                throw DataError(file: "<stdin>", location: "line \(lineNumber)",
                                "\(ids.count) tokens with [CLS] and [SEP], more than the model's \(encoder.maxLength)")
            }
            pending.append((line, ids))
            if pending.count == batch { flush() }
        }
        flush()
    }

    func textLines(_ sentence: String, _ ids: [Int], _ e: [Float]) -> String {
        "sentence: \(sentence)\nids: " + ids.map(String.init).joined(separator: " ")
            + "\nembedding: " + e.map { "\($0)" }.joined(separator: " ")
    }

    func jsonLine(_ sentence: String, _ ids: [Int], _ e: [Float]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let s = String(decoding: (try? encoder.encode(sentence)) ?? Foundation.Data("\"\"".utf8), as: UTF8.self)
        // Floats print in their shortest round-trip form.
        return "{\"sentence\": \(s), \"ids\": [" + ids.map(String.init).joined(separator: ", ")
            + "], \"embedding\": [" + e.map { "\($0)" }.joined(separator: ", ") + "]}"
    }
}
