import Foundation
import Tensor

/// Synthetic GLUE: the nine task folders in the published formats (files, columns,
/// headers, label sets; see `GLUE`), over English words and templated sentences, each
/// label set by a hidden rule, at three difficulty levels.
///
/// Hidden rules (level 1 easy ... 3 hard):
/// - CoLA (acceptability): a sentence is unacceptable when corrupted: level 1 word-order
///   scrambles (determiner after noun, verb-final, doubled determiner, missing verb); level
///   2 local morphology (subject-verb agreement next to the subject, "a" with a plural,
///   wrong verb form after an auxiliary); level 3 long-distance agreement across an
///   attractor noun of the other number, or an object after an intransitive verb.
///   About 65% acceptable, as the published set.
/// - SST-2 (sentiment): polarity of the deciding clause about a film: level 1 a plain
///   clause; level 2 a single negation ("is not dull") or a contrast ("X, but Y",
///   "although X, Y": Y decides); level 3 negation inside a contrast, double negation
///   ("it is not true that ... is not ..."), off-topic distractor clauses and fillers.
/// - MRPC (paraphrase, 2/3 positive): the second sentence restates the first event with
///   synonyms, passive voice and moved adverbials (more of them at higher levels), or
///   changes it: level 1 a different event, level 2 one participant or the action
///   replaced, level 3 agent and patient swapped, another day, or a negation.
/// - QQP (duplicate questions, 40% duplicates): same intent and topic in another template;
///   non-duplicates differ in intent and topic (1), in one of them (2), or are an
///   asymmetric question with its topics swapped ("from A to B" vs "from B to A", 3), while
///   symmetric ones ("difference between A and B") stay duplicates when swapped.
///   The train file also has a few malformed rows (a question broken over two lines),
///   which readers skip, as in the published file.
/// - STS-B (similarity 0-5): two descriptions of events sharing some of agent, action,
///   object, place and attribute; the score is the weighted share kept (agent 1.25,
///   action 1.5, object 1.25, place 0.5, attribute 0.5) plus N(0, 0.15) noise, clipped and
///   rounded to 0.2. Kept parts are repeated verbatim (1), with synonyms (2), or with
///   synonyms, passive voice and lexically overlapping replacements (3).
/// - MNLI (entailment/neutral/contradiction): the hypothesis drops modifiers, generalises
///   (hypernym, synonym, "someone"), denies ("not", "nobody"), replaces an attribute or
///   activity by an exclusive one, or adds information the premise lacks; level 3 adds
///   premises with a second clause, double negation, negated premises and specialisation
///   (premise "a person", hypothesis "a farmer": neutral). Genre prefixes frame the
///   premise; dev_mismatched uses other genres and partly other nouns.
/// - QNLI (does the sentence answer the question): entailment when the sentence states the
///   asked part (who/what/where/when) of the same event; otherwise (1) an unrelated
///   sentence, (2) the event without the asked part, (3) another action of the same
///   participants.
/// - RTE (two-way entailment): MNLI's rule over two-sentence news-style premises, neutral
///   and contradiction merged into not_entailment.
/// - WNLI (pronoun resolution): "The A <verb> the B because <pronoun> <predicate>."; the
///   predicate of the schema picks A or B; the hypothesis names one of them. The pronoun
///   alone resolves it at level 1 (a person and a thing), not at levels 2 (two animals or
///   two things) and 3 (two people).
///
/// Levels are balanced within each split and written to `glue/<Task>/difficulty.tsv`
/// (`split<TAB>index<TAB>level`, the index being the data row's 0-based position as the
/// reader counts it), never into the GLUE files. Everything is a function of the seed.
public enum GLUEProxy {
    /// Number of examples per split.
    public struct Sizes: Equatable, Sendable {
        public var train: Int
        /// Each dev split (MNLI: each of dev_matched and dev_mismatched).
        public var dev: Int
        /// Each test split.
        public var test: Int

        public init(train: Int, dev: Int, test: Int) {
            self.train = train
            self.dev = dev
            self.test = test
        }
    }

    /// smoke: 64 train / 32 dev / 32 test per task; proxy: 16000 / 2000 / 500.
    public static func sizes(_ scale: ProxyScale) -> Sizes {
        switch scale {
        case .smoke: return Sizes(train: 64, dev: 32, test: 32)
        case .proxy: return Sizes(train: 16000, dev: 2000, test: 500)
        }
    }

    /// Writes `root/glue/<Task>/` for all nine tasks at a standard scale, and notes it in
    /// `root/PROXY.md`.
    public static func write(root: URL, seed: UInt64, scale: ProxyScale) throws {
        try write(root: root, seed: seed, sizes: sizes(scale), scaleName: scale.rawValue)
    }

    /// Writes `root/glue/<Task>/` for `tasks` with the given sizes, and notes it in
    /// `root/PROXY.md`. Existing proxy folders are replaced; a task folder holding a
    /// `train.tsv` without `difficulty.tsv` (the published data) is never overwritten.
    public static func write(root: URL, seed: UInt64, sizes: Sizes, tasks: [GLUETask] = GLUETask.allCases,
                             scaleName: String? = nil) throws {
        let fm = FileManager.default
        for task in tasks {
            let dir = GLUE.taskFolder(root: root, task: task)
            if fm.fileExists(atPath: dir.appendingPathComponent("train.tsv").path)
                && !fm.fileExists(atPath: dir.appendingPathComponent("difficulty.tsv").path) {
                throw DataError(file: dir.path, "holds a train.tsv that is not proxy data (no difficulty.tsv): not overwriting it")
            }
        }
        for task in tasks {
            let dir = GLUE.taskFolder(root: root, task: task)
            do { try fm.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                throw DataError(file: dir.path, "cannot create the folder: \(error.localizedDescription)")
            }
            var difficulty = "split\tindex\tlevel\n"
            let base = RNG(seed: seed).split("glue-proxy").split(task.rawValue)
            for split in task.splits {
                let count = split == "train" ? sizes.train : split.hasPrefix("dev") ? sizes.dev : sizes.test
                var g = base.split(split)
                let rows = generate(task: task, split: split, count: count, rng: &g)
                let (bytes, levels) = render(task: task, split: split, rows: rows, rng: &g)
                try writeProxyFile(bytes, GLUE.file(root: root, task: task, split: split))
                for (index, level) in levels { difficulty += "\(split)\t\(index)\t\(level)\n" }
            }
            try writeProxyFile(Data(difficulty.utf8), dir.appendingPathComponent("difficulty.tsv"))
        }
        let scale = scaleName.map { "scale \($0), " } ?? ""
        try ProxyNotes.record(root: root, section: DatasetLayout.glueFolder, body: """
            Synthetic GLUE (\(tasks.map(\.rawValue).joined(separator: ", "))), written by moebench's \
            GLUEProxy with seed \(seed), \(scale)\(sizes.train) train, \(sizes.dev) per dev and \(sizes.test) \
            per test split per task, in the published files, columns and label sets. Templated English \
            sentences whose labels follow a hidden rule per task (acceptability by word-order and agreement \
            corruption, sentiment with negation and contrast, paraphrase by synonyms and voice, graded \
            similarity, three-way entailment, question answering, pronoun resolution) at difficulty \
            levels 1-3 (glue/<Task>/difficulty.tsv: split, index, level). QQP's train file has a few \
            malformed rows that readers skip, as the published one.
            """)
    }

    /// One generated example before formatting.
    struct Row {
        var a: String
        var b: String?
        /// Label id (classification) or -1.
        var label: Int
        var score: Float
        var level: Int
        /// MNLI genre.
        var genre: String = ""
        var tokensA: [String] = []
        var tokensB: [String] = []
    }

    /// `count` examples of `task`'s `split` (levels balanced, then shuffled).
    static func generate(task: GLUETask, split: String, count: Int, rng g: inout RNG) -> [Row] {
        var levels = (0..<count).map { $0 % 3 + 1 }
        g.shuffle(&levels)
        var gen = Generator(rng: g.split("sentences"), mismatched: split.hasSuffix("mismatched"))
        var rows: [Row] = []
        rows.reserveCapacity(count)
        for level in levels {
            rows.append(gen.example(task: task, level: level))
        }
        g = gen.rng
        return rows
    }

    /// The file bytes of one split, and (row index, level) for every data row.
    static func render(task: GLUETask, split: String, rows: [Row], rng g: inout RNG) -> (Data, [(Int, Int)]) {
        let layout = GLUE.columns(task: task, split: split)
        let test = split.hasPrefix("test")
        var lines: [String] = []
        if layout.header { lines.append(layout.headerNames.joined(separator: "\t")) }
        var levels: [(Int, Int)] = []
        var row = 0
        // QQP train: a few questions broken over two lines (two malformed rows each).
        var broken = Set<Int>()
        if task == .qqp && split == "train" && !rows.isEmpty {
            for _ in 0..<max(1, rows.count / 500) { broken.insert(g.int(rows.count)) }
        }
        for (i, r) in rows.enumerated() {
            var cols: [String]
            switch task {
            case .cola:
                cols = test ? ["\(i)", r.a]
                    : [g.pick(Lexicon.colaSources), "\(r.label)", r.label == 1 ? "" : "*", r.a]
            case .sst2:
                cols = test ? ["\(i)", r.a] : [r.a, "\(r.label)"]
            case .mrpc:
                let id1 = "\(100_000 + g.int(3_900_000))", id2 = "\(100_000 + g.int(3_900_000))"
                cols = test ? ["\(i)", id1, id2, r.a, r.b!] : ["\(r.label)", id1, id2, r.a, r.b!]
            case .stsb:
                let src = g.pick(Lexicon.stsbSources)
                cols = ["\(i)", src.genre, src.file, g.pick(src.years), String(format: "%04d", 1 + g.int(1500)),
                        "none", "none", r.a, r.b!]
                if !test { cols.append(String(format: "%.3f", r.score)) }
            case .qqp:
                if test {
                    cols = ["\(i)", r.a, r.b!]
                } else {
                    cols = ["\(i)", "\(2 * i + 1)", "\(2 * i + 2)", r.a, r.b!, "\(r.label)"]
                }
            case .mnli:
                let prompt = 10_000 + g.int(140_000)
                let letter = ["e", "n", "c"][max(0, r.label)]
                cols = ["\(i)", "\(prompt)", test ? "\(prompt)" : "\(prompt)\(letter)", r.genre,
                        binaryParse(r.tokensA), binaryParse(r.tokensB), parse(r.tokensA), parse(r.tokensB), r.a, r.b!]
                if !test {
                    let gold = task.labelNames[r.label]
                    if split == "train" {
                        cols += [gold, gold]
                    } else {
                        // Five annotators, at most one disagreeing: gold is the majority.
                        var annotators = [gold, gold, gold, gold, gold]
                        if g.chance(0.3) {
                            annotators[1 + g.int(4)] = task.labelNames[(r.label + 1 + g.int(2)) % 3]
                        }
                        cols += annotators + [gold]
                    }
                }
            case .qnli, .rte, .wnli:
                cols = ["\(i)", r.a, r.b!]
                if !test { cols.append(task == .wnli ? "\(r.label)" : task.labelNames[r.label]) }
            }
            if broken.contains(i) {
                // The first question split at its last space: two rows of the wrong width.
                let q = cols[cols.count - (test ? 2 : 3)]
                let cut = q.lastIndex(of: " ") ?? q.index(before: q.endIndex)
                let head = Array(cols[..<(cols.count - (test ? 2 : 3))]) + [String(q[..<cut])]
                let tail = [String(q[q.index(after: cut)...])] + Array(cols[(cols.count - (test ? 1 : 2))...])
                lines.append(head.joined(separator: "\t"))
                lines.append(tail.joined(separator: "\t"))
                row += 2
            }
            lines.append(cols.joined(separator: "\t"))
            levels.append((row, r.level))
            row += 1
        }
        var data = Data()
        if task == .mrpc && !test { data.append(contentsOf: [0xEF, 0xBB, 0xBF]) }
        data.append(Data((lines.joined(separator: "\n") + "\n").utf8))
        return (data, levels)
    }

    /// A right-branching binary bracketing in the style of MNLI's `*_binary_parse` columns.
    static func binaryParse(_ tokens: [String]) -> String {
        guard let last = tokens.last else { return "( )" }
        var s = last
        for t in tokens.dropLast().reversed() { s = "( \(t) \(s) )" }
        return tokens.count == 1 ? "( \(s) )" : s
    }

    /// A flat part-of-speech parse in the style of MNLI's `*_parse` columns.
    static func parse(_ tokens: [String]) -> String {
        "(ROOT (S " + tokens.map { "(\(tag($0)) \($0))" }.joined(separator: " ") + "))"
    }

    static let tags: [String: String] = {
        var t: [String: String] = [:]
        for n in Lexicon.people + Lexicon.otherPeople + Lexicon.animals + Lexicon.things {
            t[n.sg] = "NN"; t[n.pl] = "NNS"
        }
        for v in Lexicon.transitive + Lexicon.intransitive {
            t[v.base] = "VB"; t[v.s] = "VBZ"; t[v.past] = "VBD"; t[v.ing] = "VBG"
            if t[v.pp] == nil { t[v.pp] = "VBN" }
        }
        for a in Lexicon.thingAdjectives + Lexicon.personAdjectives { t[a.word] = "JJ" }
        for c in Lexicon.colors { t[c] = "JJ" }
        for w in ["the", "a", "an", "some", "two", "every", "no"] { t[w] = "DT" }
        for w in ["in", "at", "near", "on", "by", "from", "for", "into", "of", "because", "while", "that"] { t[w] = "IN" }
        for w in ["is", "was"] { t[w] = "VBZ" }
        for w in ["are", "were"] { t[w] = "VBP" }
        for w in ["he", "she", "it", "they", "someone", "nobody", "something"] { t[w] = "PRP" }
        t["not"] = "RB"; t["."] = "."; t[","] = ","
        return t
    }()

    static func tag(_ token: String) -> String {
        tags[token] ?? tags[token.lowercased()] ?? (token.first?.isUppercase == true ? "NNP" : "NN")
    }
}

// MARK: - The sentence generator

/// Tense of a rendered clause.
enum PTense { case past, progressive, present }

/// A simple event: agent, action, optional object, place and time.
struct PEvent {
    var agent: PNoun
    var agentPlural = false
    var agentAdj: String?
    var agentDefinite = true
    var verb: PVerb
    var object: PNoun?
    var objectPlural = false
    var objectAdj: String?
    var objectDefinite = false
    var place: PPlace?
    var time: [String]?
}

/// How an event is put into words.
struct PStyle {
    var tense: PTense = .past
    var passive = false
    var negated = false
    var synonymVerb = false
    var synonymAdjectives = false
    var hyperAgent = false
    var hyperObject = false
    var dropAdjectives = false
    var dropPlace = false
    var dropTime = false
    var dropAgentInPassive = false
    var frontTime = false
    var frontPlace = false
}

struct Generator {
    var rng: RNG
    let mismatched: Bool

    init(rng: RNG, mismatched: Bool) {
        self.rng = rng
        self.mismatched = mismatched
    }

    mutating func example(task: GLUETask, level: Int) -> GLUEProxy.Row {
        switch task {
        case .cola: return cola(level)
        case .sst2: return sst2(level)
        case .mrpc: return mrpc(level)
        case .qqp: return qqp(level)
        case .stsb: return stsb(level)
        case .mnli: return mnli(level)
        case .qnli: return qnli(level)
        case .rte: return rte(level)
        case .wnli: return wnli(level)
        }
    }

    // MARK: Events and rendering

    var peoplePool: [PNoun] { mismatched ? Lexicon.otherPeople + Array(Lexicon.people.prefix(10)) : Lexicon.people }

    mutating func noun(_ kind: PNoun.Kind) -> PNoun {
        switch kind {
        case .person: return rng.pick(peoplePool)
        case .animal: return rng.pick(Lexicon.animals)
        case .thing: return rng.pick(Lexicon.things)
        }
    }

    mutating func objectNoun(for verb: PVerb, not other: PNoun) -> PNoun {
        var pool: [PNoun]
        switch verb.object ?? .thing {
        case .thing: pool = Lexicon.things
        case .person: pool = peoplePool
        case .animate: pool = peoplePool + Lexicon.animals
        case .any: pool = Lexicon.things + Lexicon.animals
        }
        pool = pool.filter { $0.sg != other.sg }
        return rng.pick(pool)
    }

    mutating func adjective(for n: PNoun) -> String {
        switch n.kind {
        case .thing: return rng.chance(0.5) ? rng.pick(Lexicon.colors) : rng.pick(Lexicon.thingAdjectives).word
        case .person, .animal: return rng.pick(Lexicon.personAdjectives).word
        }
    }

    /// A random event: agent a person (80%) or an animal, a transitive action (or one whose
    /// object is a person, when `personObject`), optional adjectives, place and time.
    mutating func event(adjectives: Double = 0.5, place: Double = 0.6, time: Double = 0.4,
                        personObject: Bool = false, plural: Double = 0.2) -> PEvent {
        let agent = rng.chance(0.8) || personObject ? noun(.person) : noun(.animal)
        let verbs = Lexicon.transitive.filter { v in
            if personObject { return v.object == .person }
            if agent.kind == .animal { return v.object != .person }
            return true
        }
        let verb = rng.pick(verbs)
        var e = PEvent(agent: agent, verb: verb)
        e.agentPlural = rng.chance(plural)
        e.agentDefinite = rng.chance(0.6)
        e.object = objectNoun(for: verb, not: agent)
        e.objectPlural = rng.chance(plural)
        e.objectDefinite = rng.chance(0.4)
        if rng.chance(adjectives) { e.agentAdj = adjective(for: agent) }
        if rng.chance(adjectives + 0.2) { e.objectAdj = adjective(for: e.object!) }
        if rng.chance(place) { e.place = rng.pick(Lexicon.places) }
        if rng.chance(time) { e.time = rng.pick(Lexicon.times) }
        return e
    }

    func synonymAdj(_ w: String?, _ on: Bool) -> String? {
        guard let w else { return nil }
        if on, let s = Lexicon.adjective(w)?.synonym { return s }
        return w
    }

    func np(_ n: PNoun, plural: Bool, adj: String?, definite: Bool, hyper: Bool = false) -> [String] {
        let head = hyper ? (plural ? n.hyper.1 : n.hyper.0) : n.form(plural)
        let words = (adj.map { [$0] } ?? []) + head.split(separator: " ").map(String.init)
        if definite { return ["the"] + words }
        if plural { return ["some"] + words }
        return [indefinite(words[0])] + words
    }

    /// The clause for `e` in style `s`, as tokens without final punctuation.
    func clause(_ e: PEvent, _ s: PStyle) -> [String] {
        let verb = s.synonymVerb ? (e.verb.synonym.map { Lexicon.verb($0) } ?? e.verb) : e.verb
        let agentAdj = s.dropAdjectives ? nil : synonymAdj(e.agentAdj, s.synonymAdjectives)
        let objectAdj = s.dropAdjectives ? nil : synonymAdj(e.objectAdj, s.synonymAdjectives)
        let subject = np(e.agent, plural: e.agentPlural, adj: agentAdj, definite: e.agentDefinite, hyper: s.hyperAgent)
        var out: [String] = []
        if s.frontTime, !s.dropTime, let t = e.time { out += t + [","] }
        if s.frontPlace, !s.dropPlace, let p = e.place { out += p.tokens + [","] }
        if s.passive, let o = e.object {
            let obj = np(o, plural: e.objectPlural, adj: objectAdj, definite: e.objectDefinite, hyper: s.hyperObject)
            let pl = e.objectPlural
            out += obj
            switch s.tense {
            case .past: out += [pl ? "were" : "was"] + (s.negated ? ["not"] : []) + [verb.pp]
            case .progressive: out += [pl ? "are" : "is"] + (s.negated ? ["not"] : []) + ["being", verb.pp]
            case .present: out += [pl ? "are" : "is"] + (s.negated ? ["not"] : []) + [verb.pp]
            }
            if !s.dropAgentInPassive { out += ["by"] + subject }
        } else {
            let pl = e.agentPlural
            out += subject
            switch s.tense {
            case .past: out += s.negated ? ["did", "not", verb.base] : [verb.past]
            case .progressive: out += [pl ? "are" : "is"] + (s.negated ? ["not"] : []) + [verb.ing]
            case .present: out += s.negated ? [pl ? "do" : "does", "not", verb.base] : [pl ? verb.base : verb.s]
            }
            if let o = e.object {
                out += np(o, plural: e.objectPlural, adj: objectAdj, definite: e.objectDefinite, hyper: s.hyperObject)
            }
        }
        if !(s.frontPlace || s.dropPlace), let p = e.place { out += p.tokens }
        if !(s.frontTime || s.dropTime), let t = e.time { out += t }
        if s.tense != .past {
            // Past-time adverbials read as their present counterparts in other tenses.
            for (i, w) in out.enumerated() {
                if w == "yesterday" || w == "Yesterday" { out[i] = w == "yesterday" ? "today" : "Today" }
                if (w == "last" || w == "Last") && i + 1 < out.count && ["week", "year"].contains(out[i + 1]) {
                    out[i] = w == "last" ? "this" : "This"
                }
            }
        }
        return out
    }

    /// A sentence: capitalised, with a final period.
    func sentence(_ tokens: [String], end: String = ".") -> [String] {
        guard let f = tokens.first else { return tokens }
        return [capitalized(f)] + tokens.dropFirst() + [end]
    }

    func natural(_ tokens: [String]) -> String { joinTokens(tokens, tokenized: false) }

    func pronoun(_ n: PNoun, plural: Bool) -> String {
        if plural { return "they" }
        switch n.kind {
        case .person:
            if ["woman", "girl"].contains(n.sg) { return "she" }
            if ["man", "boy"].contains(n.sg) { return "he" }
            return "she"
        case .animal, .thing: return "it"
        }
    }

    // MARK: CoLA

    mutating func cola(_ level: Int) -> GLUEProxy.Row {
        let ok = rng.chance(0.65)
        let tokens = colaSentence(level: level, ok: ok)
        return GLUEProxy.Row(a: natural(sentence(tokens)), b: nil, label: ok ? 1 : 0, score: 0, level: level)
    }

    enum ColaTense { case past, present, will, perfect, progressive }

    func verbGroup(_ v: PVerb, _ tense: ColaTense, plural: Bool) -> [String] {
        switch tense {
        case .past: return [v.past]
        case .present: return [plural ? v.base : v.s]
        case .will: return ["will", v.base]
        case .perfect: return [plural ? "have" : "has", v.pp]
        case .progressive: return [plural ? "are" : "is", v.ing]
        }
    }

    mutating func colaSentence(level: Int, ok: Bool) -> [String] {
        let subject = rng.chance(0.75) ? noun(.person) : noun(.animal)
        let plural = rng.chance(0.5)
        var intransitive = level == 3 ? rng.chance(0.35) : rng.chance(0.15)
        // Level-3 corruption kinds: 0 attractor agreement, 1 object after an intransitive verb.
        let l3Kind = rng.int(2)
        if level == 3 && !ok { intransitive = l3Kind == 1 }
        let verb = intransitive ? rng.pick(Lexicon.intransitive)
            : rng.pick(Lexicon.transitive.filter { subject.kind == .person || $0.object != .person })
        var tense: ColaTense
        switch level {
        case 1: tense = rng.chance(0.5) ? .past : .present
        case 2: tense = rng.pick([.past, .present, .will, .perfect, .progressive])
        default: tense = rng.chance(0.7) ? .present : rng.pick([.past, .perfect, .progressive])
        }
        // Level-2 corruption kinds: 0 agreement, 1 "a" + plural, 2 wrong form after an auxiliary.
        let l2Kind = rng.int(3)
        if level == 2 && !ok {
            if l2Kind == 0 { tense = rng.pick([.present, .perfect, .progressive]) }
            if l2Kind == 2 { tense = rng.pick([.will, .perfect, .progressive]) }
        }
        if level == 3 && !ok && l3Kind == 0 { tense = rng.pick([.present, .present, .perfect, .progressive]) }

        // Subject phrase.
        var subjectNP = ["the"]
        if level >= 2 && rng.chance(0.5) { subjectNP.append(adjective(for: subject)) }
        subjectNP.append(subject.form(plural))
        if level == 2 && ok && !plural && rng.chance(0.3) { subjectNP[0] = indefinite(subjectNP[1]) }
        var attractor: [String] = []
        if level == 3 {
            let other = noun(rng.chance(0.5) ? .person : .animal)
            let otherPlural = rng.chance(0.8) ? !plural : plural
            if rng.chance(0.7) || (!ok && l3Kind == 0) {
                // The verb of a corrupted sentence agrees with this noun instead of the subject.
                let attractorPlural = !ok && l3Kind == 0 ? !plural : otherPlural
                attractor = [rng.pick(["near", "with", "behind", "beside"]), "the", other.form(attractorPlural)]
            } else {
                attractor = ["that", "the", other.form(otherPlural), rng.pick(["saw", "liked", "met", "called"])]
            }
        }
        var verbPlural = plural
        if !ok && ((level == 2 && l2Kind == 0) || (level == 3 && l3Kind == 0)) { verbPlural.toggle() }
        var group = verbGroup(verb, tense, plural: verbPlural)
        if !ok && level == 2 && l2Kind == 2 {
            // Wrong form after the auxiliary.
            switch tense {
            case .will: group = ["will", verb.past == verb.base ? verb.ing : verb.past]
            case .perfect: group = [group[0], verb.base == verb.pp ? verb.ing : verb.base]
            default: group = [group[0], verb.base]
            }
        }
        var object: [String] = []
        if !intransitive || (level == 3 && !ok && l3Kind == 1) {
            let o = objectNoun(for: intransitive ? Lexicon.transitive[0] : verb, not: subject)
            let oPlural = rng.chance(0.3)
            object = oPlural ? ["the"] : [rng.chance(0.5) ? "the" : indefinite(o.sg)]
            if level >= 2 && rng.chance(0.4) {
                let adj = adjective(for: o)
                if object[0] != "the" { object[0] = indefinite(adj) }
                object.append(adj)
            }
            object.append(o.form(oPlural))
        }
        var tail: [String] = []
        if level >= 2 && rng.chance(0.5) { tail += rng.pick(Lexicon.places).tokens }
        if level == 3 && rng.chance(0.5) { tail += rng.pick(Lexicon.times) }

        if !ok && level == 2 && l2Kind == 1 {
            // "a" with a plural subject (the verb agrees with the plural).
            subjectNP = [indefinite(subjectNP[1])] + subjectNP.dropFirst()
            subjectNP[subjectNP.count - 1] = subject.pl
            group = verbGroup(verb, tense, plural: true)
        }
        var tokens = subjectNP + attractor + group + object + tail
        if !ok && level == 1 {
            switch rng.int(4) {
            case 0: // Determiner after the last noun.
                if object.isEmpty {
                    tokens = Array(subjectNP.dropFirst()) + [subjectNP[0]] + group + tail
                } else {
                    tokens = subjectNP + group + Array(object.dropFirst()) + [object[0]] + tail
                }
            case 1: // Verb last.
                tokens = subjectNP + object + tail + group
                if object.isEmpty { tokens = group + subjectNP + tail }
            case 2: // Doubled determiner.
                if object.isEmpty || rng.chance(0.5) {
                    tokens = [rng.pick(["the", "a"])] + subjectNP + group + object + tail
                } else {
                    tokens = subjectNP + group + [rng.pick(["the", "a"])] + object + tail
                }
            default: // Determiner and preposition with no noun.
                tokens = subjectNP + group + object + [rng.pick(["in", "at", "near"]), "the"] + tail
            }
        }
        return tokens
    }

    // MARK: SST-2

    mutating func sst2(_ level: Int) -> GLUEProxy.Row {
        let label = rng.int(2)
        let positive = label == 1
        var tokens: [String]
        switch level {
        case 1:
            switch rng.int(3) {
            case 0: tokens = sstClause(positive, negated: false)
            case 1: tokens = ["a"] + (rng.chance(0.5) ? [rng.pick(Lexicon.intensifiers)] : [])
                + [sstAdjective(positive), rng.pick(["film", "movie", "comedy", "drama", "thriller"])]
            default: tokens = sstClause(positive, negated: false) + ["and"] + sstClause(positive, negated: false)
            }
        case 2:
            if rng.chance(0.5) {
                tokens = sstClause(positive, negated: true)
            } else {
                tokens = contrast(deciding: sstClause(positive, negated: false), other: sstClause(!positive, negated: false))
            }
        default:
            switch rng.int(4) {
            case 0: // Negation inside a contrast.
                tokens = contrast(deciding: sstClause(positive, negated: rng.chance(0.5)),
                                  other: sstClause(!positive, negated: rng.chance(0.5)))
            case 1: // Double negation.
                tokens = ["it", "is", "not", "true", "that"] + sstClause(!positive, negated: true)
            case 2: // Off-topic distractor of the other polarity, then the film.
                tokens = rng.pick(Lexicon.offTopic) + [sstAdjective(!positive), ","] + ["but"]
                    + sstClause(positive, negated: rng.chance(0.3))
            default: // Main clause first, concessive second.
                tokens = sstClause(positive, negated: rng.chance(0.5)) + [",", rng.pick(["even though", "although"])]
                    + sstClause(!positive, negated: false)
            }
            if rng.chance(0.6) { tokens += rng.pick(Lexicon.fillers) }
        }
        let text = joinTokens(tokens.flatMap { $0.split(separator: " ").map(String.init) } + ["."], tokenized: true) + " "
        return GLUEProxy.Row(a: text.lowercased(), b: nil, label: label, score: 0, level: level)
    }

    mutating func sstAdjective(_ positive: Bool) -> String {
        rng.pick(positive ? Lexicon.positive : Lexicon.negative)
    }

    /// A clause about the film expressing `positive`; when `negated`, it says "not" of an
    /// adjective of the other polarity.
    mutating func sstClause(_ positive: Bool, negated: Bool) -> [String] {
        var out = rng.pick(Lexicon.aspects).split(separator: " ").map(String.init)
        let plural = out.last!.hasSuffix("s")
        out.append(rng.pick(plural ? ["are", "were", "are", "feel"] : ["is", "was", "is", "feels"]))
        if negated {
            if out.last!.hasPrefix("feel") { out[out.count - 1] = plural ? "are" : "is" }
            out.append(rng.pick(["not", "never", "not"]))
            if rng.chance(0.3) { out.append(rng.pick(["very", "really", "particularly"])) }
        } else if rng.chance(0.4) {
            out.append(rng.pick(Lexicon.intensifiers))
        }
        out.append(sstAdjective(negated ? !positive : positive))
        return out
    }

    mutating func contrast(deciding: [String], other: [String]) -> [String] {
        if rng.chance(0.5) { return other + [",", "but"] + deciding }
        return ["although"] + other + [","] + deciding
    }

    // MARK: MRPC

    mutating func mrpc(_ level: Int) -> GLUEProxy.Row {
        let label = rng.chance(2.0 / 3.0) ? 1 : 0
        let personObject = label == 0 && level == 3 && rng.chance(0.5)
        var e = event(adjectives: 0.5, place: 0.8, time: 0.7, personObject: personObject)
        if level == 1 && e.place == nil { e.place = rng.pick(Lexicon.places) }
        var s1 = PStyle()
        s1.frontTime = rng.chance(0.2)
        s1.passive = rng.chance(0.15)
        var e2 = e
        var s2 = s1
        if label == 1 {
            switch level {
            case 1:
                // The same words: an adverbial moved (and perhaps a reporting frame).
                if e.time != nil && rng.chance(0.7) { s2.frontTime.toggle() } else { s2.frontPlace.toggle() }
            case 2:
                // One synonym verb: as many changed words as a level-2 non-paraphrase.
                if e.verb.synonym == nil {
                    e.verb = rng.pick(Lexicon.transitive.filter { $0.synonym != nil && $0.object == e.verb.object })
                }
                e2 = e
                s2.synonymVerb = true
            default:
                s2.passive.toggle()
                s2.frontTime.toggle()
                s2.frontPlace = rng.chance(0.4)
                s2.synonymVerb = true
                s2.synonymAdjectives = true
            }
        } else {
            switch level {
            case 1:
                e2 = event(adjectives: 0.5, place: 0.8, time: 0.7)
                s2 = PStyle(frontTime: rng.chance(0.2))
            case 2:
                switch rng.int(3) {
                case 0: e2.agent = rng.pick(peoplePool.filter { $0.sg != e.agent.sg && $0.sg != e.object?.sg })
                case 1: e2.object = objectNoun(for: e.verb, not: e.object ?? e.agent)
                default:
                    e2.verb = rng.pick(Lexicon.transitive.filter {
                        $0.base != e.verb.base && $0.base != e.verb.synonym && $0.object == e.verb.object })
                }
            default:
                switch personObject ? 0 : 1 + rng.int(2) {
                case 0: // Roles swapped, voice maybe changed.
                    swap(&e2.agent, &e2.object!)
                    swap(&e2.agentPlural, &e2.objectPlural)
                    swap(&e2.agentAdj, &e2.objectAdj)
                    swap(&e2.agentDefinite, &e2.objectDefinite)
                    if rng.chance(0.5) { s2.passive.toggle() }
                case 1: // Another time.
                    let t = e.time ?? ["on", "Monday"]
                    e2.time = rng.pick(Lexicon.times.filter { $0 != t })
                    if e.time == nil { e2.time = rng.pick(Lexicon.times) }
                    s2.synonymVerb = true
                default: // Denied.
                    s2.negated = true
                    s2.synonymVerb = rng.chance(0.5)
                }
            }
        }
        var t1 = sentence(clause(e, s1))
        var t2 = sentence(clause(e2, s2))
        t1 = frame(t1)
        t2 = frame(t2)
        return GLUEProxy.Row(a: joinTokens(t1, tokenized: true), b: joinTokens(t2, tokenized: true),
                             label: label, score: 0, level: level)
    }

    /// Sometimes wraps a sentence in reported speech (with quote characters, as MRPC's news text).
    mutating func frame(_ s: [String]) -> [String] {
        switch rng.int(6) {
        case 0: return Array(s.dropLast()) + [",", rng.pick(["officials", "police", "the company"]), "said", "."]
        case 1: return ["\""] + Array(s.dropLast()) + [",", "\"", rng.pick(["he", "she"]), "said", "."]
        default: return s
        }
    }

    // MARK: QQP

    mutating func qqp(_ level: Int) -> GLUEProxy.Row {
        let duplicate = rng.chance(0.4)
        let intents = Lexicon.intents
        let n = Lexicon.topics.count
        let (t, u) = rng.distinctPair(n)
        var v = rng.int(n)
        while v == t || v == u { v = rng.int(n) }
        var q1: String, q2: String
        func fill(_ template: String, _ a: Int, _ b: Int) -> String {
            template.replacingOccurrences(of: "{T}", with: Lexicon.topics[a])
                .replacingOccurrences(of: "{U}", with: Lexicon.topics[b])
        }
        func twoTemplates(_ k: Int) -> (String, String) {
            let (x, y) = rng.distinctPair(intents[k].templates.count)
            return (intents[k].templates[x], intents[k].templates[y])
        }
        // Intents 0-5 have one topic; 6 (difference) is symmetric in its two topics, 7
        // (switch from one to the other) is not.
        let single = intents.indices.filter { intents[$0].symmetric == nil }
        let i = level == 3 ? (rng.chance(0.5) ? 6 : 7) : rng.pick(single)
        let (a, b) = twoTemplates(i)
        switch level {
        case 1:
            q1 = fill(a, t, u)
            if duplicate {
                q2 = fill(b, t, u)
            } else {
                let j = rng.pick(single.filter { $0 != i })
                q2 = fill(rng.pick(intents[j].templates), v, u)
            }
        case 2:
            q1 = fill(a, t, u)
            if duplicate {
                q2 = fill(b, t, u)
            } else if rng.chance(0.5) {
                let j = rng.pick(single.filter { $0 != i })
                q2 = fill(rng.pick(intents[j].templates), t, u)
            } else {
                q2 = fill(b, v, u)
            }
        default:
            q1 = fill(a, t, u)
            if i == 6 {
                q2 = duplicate ? fill(b, u, t) : (rng.chance(0.5) ? fill(b, t, v) : fill(b, v, u))
            } else {
                q2 = duplicate ? fill(b, t, u) : fill(b, u, t)
            }
        }
        if level >= 2 {
            if rng.chance(0.3) { q1 = addFiller(q1) }
            if rng.chance(0.3) { q2 = addFiller(q2) }
        }
        if rng.chance(0.15) { q2 = q2.lowercased() }
        if rng.chance(0.1) { swap(&q1, &q2) }
        return GLUEProxy.Row(a: q1, b: q2, label: duplicate ? 1 : 0, score: 0, level: level)
    }

    mutating func addFiller(_ q: String) -> String {
        guard q.hasSuffix("?") else { return q }
        return String(q.dropLast()) + " " + rng.pick(Lexicon.questionFillers) + "?"
    }

    // MARK: STS-B

    mutating func stsb(_ level: Int) -> GLUEProxy.Row {
        var e = event(adjectives: 0.0, place: 1.0, time: 0.0, plural: 0.15)
        e.agentDefinite = false
        e.objectDefinite = false
        e.objectAdj = adjective(for: e.object!)
        // Parts: agent, action, object, place, attribute.
        let weights: [Float] = [1.25, 1.5, 1.25, 0.5, 0.5]
        let keepProbability = Double(rng.uniform())
        var keep = weights.map { _ in rng.chance(keepProbability) }
        if !keep.contains(true) && rng.chance(0.5) { keep[rng.int(5)] = true }
        var e2 = e
        if !keep[0] {
            e2.agent = rng.pick(peoplePool.filter { $0.sg != e.agent.sg && $0.sg != e.object!.sg })
            if e.agent.kind == .animal { e2.agent = noun(.person) }
        }
        if !keep[1] {
            let pool = Lexicon.transitive.filter {
                $0.base != e.verb.base && $0.base != e.verb.synonym
                    && ($0.object == e.verb.object || (e.object!.kind == .thing && $0.object == .thing))
            }
            e2.verb = rng.pick(pool)
        }
        if !keep[2] {
            e2.object = objectNoun(for: e2.verb, not: e.object!)
            if e2.object!.sg == e2.agent.sg { e2.object = objectNoun(for: e2.verb, not: e2.agent) }
            e2.objectAdj = adjective(for: e2.object!)
        }
        if !keep[3] { e2.place = rng.pick(Lexicon.places.filter { $0.noun != e.place!.noun }) }
        if !keep[4] {
            var a = adjective(for: e2.object!)
            var tries = 0
            while a == e.objectAdj && tries < 10 { a = adjective(for: e2.object!); tries += 1 }
            e2.objectAdj = a == e.objectAdj ? nil : a
        }
        if keep[4] { e2.objectAdj = e.objectAdj }
        var s1 = PStyle(tense: .progressive)
        var s2 = PStyle(tense: .progressive)
        switch level {
        case 1: break
        case 2:
            s2.synonymVerb = true
            s2.synonymAdjectives = true
        default:
            s2.synonymVerb = true
            s2.synonymAdjectives = true
            if rng.chance(0.5) { s1.passive = true } else { s2.passive = true }
            s2.frontPlace = rng.chance(0.3)
        }
        let kept = zip(weights, keep).reduce(Float(0)) { $0 + ($1.1 ? $1.0 : 0) }
        var score = kept + 0.15 * rng.normal()
        score = min(5, max(0, (score * 5).rounded() / 5))
        let a = natural(sentence(clause(e, s1)))
        let b = natural(sentence(clause(e2, s2)))
        return GLUEProxy.Row(a: a, b: b, label: -1, score: score, level: level)
    }

    // MARK: MNLI and RTE

    mutating func mnli(_ level: Int) -> GLUEProxy.Row {
        let label = rng.int(3)   // entailment, neutral, contradiction
        let genre = rng.pick(mismatched ? Lexicon.mismatchedGenres : Lexicon.matchedGenres)
        let (premise, hypothesis) = nliPair(label: label, level: level, longPremise: false)
        let prefix = rng.chance(0.5) ? rng.pick(Lexicon.genrePrefixes[genre]!) : []
        var p = premise
        if !prefix.isEmpty {
            p = prefix + [p[0].first!.isUppercase && p[0] != "I" ? p[0].lowercased() : p[0]] + p.dropFirst()
            p[0] = capitalized(p[0])
        }
        if genre == "telephone" || genre == "facetoface" { p = p.map { $0.lowercased() } }
        var row = GLUEProxy.Row(a: natural(p), b: natural(hypothesis), label: label, score: 0, level: level)
        row.genre = genre
        row.tokensA = p
        row.tokensB = hypothesis
        return row
    }

    mutating func rte(_ level: Int) -> GLUEProxy.Row {
        let entailed = rng.chance(0.5)
        let label3 = entailed ? 0 : 1 + rng.int(2)
        let (premise, hypothesis) = nliPair(label: label3, level: level, longPremise: true)
        return GLUEProxy.Row(a: natural(premise), b: natural(hypothesis), label: entailed ? 0 : 1, score: 0, level: level)
    }

    /// A premise and a hypothesis for label 0 entailment, 1 neutral, 2 contradiction.
    mutating func nliPair(label: Int, level: Int, longPremise: Bool) -> ([String], [String]) {
        var e = event(adjectives: 0.4, place: 0.6, time: 0.3)
        let tense: PTense = rng.chance(0.6) ? .progressive : .past
        var ps = PStyle(tense: tense)
        var hs = PStyle(tense: tense)
        var premiseExtra: [String] = []
        var hypothesis: [String]? = nil
        // Level-3 premises: a second clause about someone else, or a general agent noun
        // ("a person", "an animal"), for every label.
        var second: PEvent? = nil
        var general = false
        if level == 3 {
            if rng.chance(0.5) {
                var s = event(adjectives: 0.3, place: 0, time: 0)
                while s.agent.sg == e.agent.sg { s = event(adjectives: 0.3, place: 0, time: 0) }
                second = s
                premiseExtra = [",", "while"] + clause(s, PStyle(tense: tense))
            } else if rng.chance(0.6) {
                general = true
                ps.hyperAgent = true
                hs.hyperAgent = true
            }
        }
        switch (label, level) {
        case (0, 1):
            hs.dropAdjectives = true
            hs.dropPlace = rng.chance(0.7)
            hs.dropTime = true
        case (0, 2):
            switch rng.int(3) {
            case 0: hs.hyperAgent = true
            case 1: hs.hyperObject = true
            default: hs.synonymVerb = true
            }
            hs.dropAdjectives = rng.chance(0.5)
            hs.dropTime = true
        case (0, _):
            switch second != nil && rng.chance(0.5) ? 0 : 1 + rng.int(2) {
            case 0: // Generalises the second clause.
                var h = PStyle(tense: tense)
                h.hyperObject = true
                hypothesis = clause(second!, h)
            case 1: // Double negation.
                var h = PStyle(tense: tense, negated: true, dropAdjectives: true, dropPlace: true, dropTime: true)
                h.hyperAgent = general
                hypothesis = ["it", "is", "not", "true", "that"] + clause(e, h)
            default: // Passive voice, a hypernym and a synonym.
                hs.passive = true
                hs.hyperAgent = true
                hs.synonymVerb = true
                hs.dropTime = true
            }
        case (1, 1):
            hs.dropTime = true
            hypothesis = clause(e, hs) + [rng.pick(["because", "so that", "for"])] + neutralTail(e)
        case (1, 2):
            if e.time == nil && rng.chance(0.5) {
                var e2 = e
                e2.time = rng.pick(Lexicon.times)
                hypothesis = clause(e2, hs)
            } else if e.objectAdj == nil {
                var e2 = e
                e2.objectAdj = adjective(for: e.object!)
                hypothesis = clause(e2, PStyle(tense: tense, dropPlace: true, dropTime: true))
            } else {
                let a = rng.pick(e.agent.kind == .thing ? Lexicon.thingAdjectives : Lexicon.personAdjectives).word
                hypothesis = np(e.agent, plural: e.agentPlural, adj: nil, definite: true)
                    + [e.agentPlural ? "are" : "is", a]
            }
        case (1, _):
            if general {
                // Specialisation: the premise says "a person", the hypothesis names a farmer.
                hs.hyperAgent = false
                hs.dropTime = true
            } else if let s = second, rng.chance(0.5) {
                var s2 = s
                s2.place = rng.pick(Lexicon.places)
                hypothesis = clause(s2, PStyle(tense: tense))
            } else {
                // Passive voice with a time the premise does not give.
                e.time = nil
                var e2 = e
                e2.time = rng.pick(Lexicon.times)
                hs.passive = true
                hs.synonymVerb = rng.chance(0.5)
                hypothesis = clause(e2, hs)
            }
        case (2, 1):
            if rng.chance(0.5) {
                hs.negated = true
                hs.dropTime = true
                hs.dropAdjectives = true
            } else {
                hypothesis = ["nobody", tense == .past ? e.verb.past : "is"]
                if tense == .progressive { hypothesis! += [e.verb.ing] }
                hypothesis! += np(e.object!, plural: e.objectPlural, adj: nil, definite: e.objectDefinite)
            }
        case (2, 2):
            switch rng.int(3) {
            case 0: // Another colour or the antonym of the object's attribute.
                var e2 = e
                if let a = e.objectAdj, let ant = Lexicon.adjective(a)?.antonym {
                    e2.objectAdj = ant
                } else {
                    if e.objectAdj == nil { e.objectAdj = rng.pick(Lexicon.colors) }
                    e2.objectAdj = rng.pick(Lexicon.colors.filter { $0 != e.objectAdj })
                }
                hypothesis = clause(e2, PStyle(tense: tense, dropPlace: true, dropTime: true))
            case 1: // Somewhere else.
                if e.place == nil { e.place = rng.pick(Lexicon.places) }
                let other = rng.pick(Lexicon.places.filter { $0.noun != e.place!.noun })
                hypothesis = np(e.agent, plural: e.agentPlural, adj: nil, definite: true)
                    + [tense == .past ? (e.agentPlural ? "were" : "was") : (e.agentPlural ? "are" : "is")] + other.tokens
                if tense == .past {
                    if e.time == nil { e.time = rng.pick(Lexicon.times) }
                    hypothesis! += e.time!
                }
            default: // An exclusive activity: the premise is about an activity.
                let group = rng.pick(Lexicon.activities)
                let (x, y) = rng.distinctPair(group.count)
                let subject = np(e.agent, plural: e.agentPlural, adj: e.agentAdj, definite: e.agentDefinite)
                let be = e.agentPlural ? "are" : "is"
                if e.place == nil { e.place = rng.pick(Lexicon.places) }
                let place = e.place!.tokens
                let premise = sentence(subject + [be, group[x]] + place)
                let h = sentence(np(e.agent, plural: e.agentPlural, adj: nil, definite: true) + [be, group[y]] + place)
                return (longPremise ? premise + background(e) : premise, h)
            }
        default:
            switch second != nil && rng.chance(0.5) ? 0 : 1 + rng.int(3) {
            case 0: // The hypothesis denies the second clause.
                hypothesis = clause(second!, PStyle(tense: tense, negated: true, dropAdjectives: true))
            case 1: // "It is not true that" the premise.
                var h = PStyle(tense: tense, dropAdjectives: true, dropPlace: true, dropTime: true)
                h.hyperAgent = general
                hypothesis = ["it", "is", "not", "true", "that"] + clause(e, h)
            case 2: // A negated premise, an affirmative hypothesis.
                ps.negated = true
                hs.dropTime = true
                hs.dropAdjectives = true
                hs.synonymVerb = rng.chance(0.5)
            default: // Passive voice and an antonym or another colour.
                var e2 = e
                if let a = e.objectAdj, let ant = Lexicon.adjective(a)?.antonym {
                    e2.objectAdj = ant
                } else {
                    if e.objectAdj == nil { e.objectAdj = rng.pick(Lexicon.colors) }
                    e2.objectAdj = rng.pick(Lexicon.colors.filter { $0 != e.objectAdj })
                }
                var h = PStyle(tense: tense, passive: true, dropPlace: true, dropTime: true)
                h.hyperAgent = general
                hypothesis = clause(e2, h)
            }
        }
        let premise = sentence(clause(e, ps) + premiseExtra)
        let h = sentence(hypothesis ?? clause(e, hs))
        return (longPremise ? premise + background(e) : premise, h)
    }

    /// Information a premise about `e` does not give.
    mutating func neutralTail(_ e: PEvent) -> [String] {
        let who = pronoun(e.agent, plural: e.agentPlural)
        let be = who == "they" ? "are" : "is"
        switch rng.int(4) {
        case 0: return [who, be, rng.pick(["moving", "late", "leaving", "hungry"])]
        case 1: return ["it", "is", rng.pick(["raining", "cold", "a holiday"])]
        case 2: return ["the", rng.pick(Lexicon.people).sg, "asked", "for", "it"]
        default: return [who, "wants", "to", rng.pick(["win", "help", "rest", "sell", "impress"])]
        }
    }

    /// A second, news-style sentence about the agent (RTE premises).
    mutating func background(_ e: PEvent) -> [String] {
        let who = pronoun(e.agent, plural: e.agentPlural)
        let place = rng.pick(Lexicon.places)
        switch rng.int(3) {
        case 0: return sentence([who, who == "they" ? "have" : "has", "lived", place.prep == "in" ? "in" : "near", "the", place.noun,
                                 "for", rng.pick(["two", "five", "many"]), "years"])
        case 1: return sentence(["the", "event", "was", "reported", "by", "a", "local", "newspaper"])
        default: return sentence(["witnesses", "said", who, rng.pick(["looked", "seemed"]), rng.pick(Lexicon.personAdjectives).word])
        }
    }

    // MARK: QNLI

    mutating func qnli(_ level: Int) -> GLUEProxy.Row {
        let entailed = rng.chance(0.5)
        var e = event(adjectives: 0.4, place: 1.0, time: 1.0)
        e.agentDefinite = true
        e.objectDefinite = true
        // Asked part: 0 who, 1 what, 2 where, 3 when.
        let asked = e.object!.kind == .thing ? rng.int(4) : [0, 2, 3][rng.int(3)]
        let agentNP = np(e.agent, plural: e.agentPlural, adj: nil, definite: true)
        let objectNP = np(e.object!, plural: e.objectPlural, adj: nil, definite: true)
        var question: [String]
        switch asked {
        case 0: question = ["who", e.verb.past] + objectNP + e.place!.tokens
        case 1: question = ["what", "did"] + agentNP + [e.verb.base] + e.place!.tokens
        case 2: question = ["where", "did"] + agentNP + [e.verb.base] + objectNP
        default: question = ["when", "did"] + agentNP + [e.verb.base] + objectNP
        }
        question = sentence(question, end: "?")
        var s = PStyle(tense: .past)
        var e2 = e
        if entailed {
            switch level {
            case 1: s.frontTime = rng.chance(0.3)
            case 2:
                s.synonymVerb = true
                s.passive = asked != 1 && rng.chance(0.5)
                s.frontPlace = rng.chance(0.3)
            default:
                s.synonymVerb = true
                s.passive = asked != 1 && rng.chance(0.5)
                s.frontTime = rng.chance(0.5)
            }
        } else {
            switch level {
            case 1:
                e2 = event(adjectives: 0.4, place: 0.8, time: 0.8)
                while e2.agent.sg == e.agent.sg { e2 = event(adjectives: 0.4, place: 0.8, time: 0.8) }
            case 2:
                switch asked {
                case 0: s.passive = true; s.dropAgentInPassive = true
                case 1:
                    let be = e.agentPlural ? "were" : "was"
                    var t = np(e.agent, plural: e.agentPlural, adj: e.agentAdj, definite: true) + [be] + e.place!.tokens + e.time!
                    if rng.chance(0.3) { t += [",", "as", "usual"] }
                    return GLUEProxy.Row(a: natural(question), b: natural(sentence(t)), label: 1, score: 0, level: level)
                case 2: s.dropPlace = true
                default: s.dropTime = true
                }
                s.synonymVerb = rng.chance(0.3)
            default:
                e2.verb = rng.pick(Lexicon.transitive.filter {
                    $0.base != e.verb.base && $0.base != e.verb.synonym && $0.object == e.verb.object })
                s.frontTime = rng.chance(0.3)
            }
        }
        var answer = clause(e2, s)
        if level == 2 && entailed && rng.chance(0.15) { answer += [",", "as", "usual"] }
        if level == 3 && rng.chance(0.5) {
            answer += [",", "after"] + clause(event(adjectives: 0, place: 0, time: 0), PStyle(tense: .past))
        }
        return GLUEProxy.Row(a: natural(question), b: natural(sentence(answer)), label: entailed ? 0 : 1, score: 0, level: level)
    }

    // MARK: WNLI

    mutating func wnli(_ level: Int) -> GLUEProxy.Row {
        let candidates = Lexicon.schemas.indices.filter { i in
            let (ka, kb) = Lexicon.schemas[i].kinds
            switch level {
            case 1: return (ka == .person) != (kb == .person)
            case 2: return ka != .person && kb != .person
            default: return ka == .person && kb == .person
            }
        }
        let schema = Lexicon.schemas[rng.pick(candidates)]
        // Two people are of professions that do not give the pronoun away.
        let neutral = Lexicon.people.filter { !["man", "woman", "boy", "girl", "child"].contains($0.sg) }
        func draw(_ kind: PNoun.Kind) -> PNoun { level == 3 ? rng.pick(neutral) : noun(kind) }
        let a = draw(schema.kinds.0)
        var b = draw(schema.kinds.1)
        while b.sg == a.sg { b = draw(schema.kinds.1) }
        let pointsToA = rng.chance(0.5)
        let predicate = (pointsToA ? schema.predicates.0 : schema.predicates.1).split(separator: " ").map(String.init)
        let referent = pointsToA ? a : b
        let pron = level == 3 ? rng.pick(["he", "she"]) : pronoun(referent, plural: false)
        let premise = sentence(["the", a.sg] + schema.verb.split(separator: " ").map(String.init) + ["the", b.sg, "because", pron] + predicate)
        let label = rng.int(2)
        let named = label == 1 ? referent : (pointsToA ? b : a)
        var hypothesis: [String]
        if rng.chance(level == 3 ? 0.5 : 0.25) {
            hypothesis = ["the", a.sg] + schema.verb.split(separator: " ").map(String.init) + ["the", b.sg, "because", "the", named.sg] + predicate
        } else {
            hypothesis = ["the", named.sg] + predicate
        }
        return GLUEProxy.Row(a: natural(premise), b: natural(sentence(hypothesis)), label: label, score: 0, level: level)
    }
}
