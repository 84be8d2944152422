import Foundation
import Tensor

/// A lexical-overlap probe for MNLI in the spirit of HANS (McCoy et al. 2019, "Right for the
/// Wrong Reasons"), written from the GLUE proxy's lexicon: every hypothesis uses only words of
/// its premise, so a model that predicts entailment from word overlap alone fails the
/// non-entailed half.
///
/// Each premise is a proxy event with a person as agent and a person as object, singular,
/// with a place ("The doctor helped a lawyer in the park."). Half the pairs (even rows) are
/// entailed: the hypothesis is the clause without the place (HANS's subsequence case,
/// entailed). The other half (odd rows) swap subject and object ("A lawyer helped the
/// doctor.": HANS's lexical-overlap case, not entailed); their gold label is `neutral`, and
/// as in HANS any non-entailment prediction (neutral or contradiction) counts as right.
/// Written as an MNLI dev file (16 columns, `dev_matched` layout), genre `fiction`.
public enum LexicalOverlapProbe {
    /// `glue/MNLI/dev_lexical_overlap.tsv`.
    public static let fileName = "dev_lexical_overlap.tsv"
    public static let defaultCount = 600

    public static func url(root: URL) -> URL {
        GLUE.taskFolder(root: root, task: .mnli).appendingPathComponent(fileName)
    }

    /// Premise and hypothesis tokens and the label (0 entailment, 1 neutral) of `count` pairs.
    static func rows(count: Int, seed: UInt64) -> [GLUEProxy.Row] {
        var gen = Generator(rng: RNG(seed: seed).split("lexical-overlap"), mismatched: false)
        var rows: [GLUEProxy.Row] = []
        for i in 0..<count {
            let entailed = i % 2 == 0
            // Singular nouns without adjectives: the verb's agreement and each noun's article do
            // not change when subject and object swap, so the swap uses only premise words.
            var e = gen.event(adjectives: 0, place: 1, time: 0, personObject: true, plural: 0)
            e.agentAdj = nil
            e.objectAdj = nil
            let tense: PTense = gen.rng.chance(0.5) ? .progressive : .past
            let premise = gen.sentence(gen.clause(e, PStyle(tense: tense)))
            var h = e
            if !entailed {
                h.agent = e.object!
                h.object = e.agent
                h.agentPlural = e.objectPlural
                h.objectPlural = e.agentPlural
                h.agentDefinite = e.objectDefinite
                h.objectDefinite = e.agentDefinite
            }
            let hypothesis = gen.sentence(gen.clause(h, PStyle(tense: tense, dropAdjectives: true, dropPlace: true)))
            var row = GLUEProxy.Row(a: gen.natural(premise), b: gen.natural(hypothesis), label: entailed ? 0 : 1,
                                    score: 0, level: 1)
            row.genre = "fiction"
            row.tokensA = premise
            row.tokensB = hypothesis
            rows.append(row)
        }
        return rows
    }

    /// Writes the probe file into `dir` (created) as `dev_lexical_overlap.tsv`.
    public static func write(seed: UInt64, count: Int = defaultCount, into dir: URL) throws {
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw DataError(file: dir.path, "cannot create the folder: \(error.localizedDescription)")
        }
        var g = RNG(seed: seed).split("lexical-overlap-render")
        let (data, _) = GLUEProxy.render(task: .mnli, split: "dev_matched", rows: rows(count: count, seed: seed), rng: &g)
        let url = dir.appendingPathComponent(fileName)
        do { try data.write(to: url) } catch { throw DataError(file: url.path, "cannot write: \(error.localizedDescription)") }
    }

    /// Reads the probe from `root` (labels: 0 entailed, 1 not entailed).
    public static func load(root: URL) throws -> GLUESplit {
        let url = url(root: root)
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw DataError(file: url.path, "cannot read: \(error.localizedDescription)") }
        return try GLUE.parse(data, task: .mnli, split: "dev_matched", file: url)
    }
}
