import Foundation
import Tensor

// The English word lists and sentence pieces the GLUE proxy draws from. Every word carries
// what the hidden labelling rules need: number forms, verb forms, a hypernym, synonyms,
// antonyms, sentiment polarity.

/// A count noun.
struct PNoun: Sendable {
    enum Kind: Sendable { case person, animal, thing }
    let sg: String
    let pl: String
    let kind: Kind
    /// More general noun (singular, plural): "person", "animal", "fruit", ...
    let hyper: (String, String)

    func form(_ plural: Bool) -> String { plural ? pl : sg }
}

/// A verb with its forms; `object` says what it takes (nil for intransitive verbs).
struct PVerb: Sendable {
    enum Object: Sendable { case thing, animate, person, any }
    let base: String
    let s: String
    let past: String
    let ing: String
    let pp: String
    let object: Object?
    /// Base form of a synonym (another entry), if any.
    let synonym: String?
}

/// A location phrase: preposition + noun.
struct PPlace: Sendable {
    let prep: String
    let noun: String
    var tokens: [String] { [prep, "the", noun] }
}

/// An adjective with an optional synonym and antonym.
struct PAdjective: Sendable {
    let word: String
    let synonym: String?
    let antonym: String?
}

enum Lexicon {
    static func person(_ sg: String, _ pl: String? = nil) -> PNoun {
        PNoun(sg: sg, pl: pl ?? sg + "s", kind: .person, hyper: ("person", "people"))
    }
    static func animal(_ sg: String, _ pl: String? = nil) -> PNoun {
        PNoun(sg: sg, pl: pl ?? sg + "s", kind: .animal, hyper: ("animal", "animals"))
    }
    static func thing(_ sg: String, _ pl: String?, _ hyper: String, _ hyperPl: String? = nil) -> PNoun {
        PNoun(sg: sg, pl: pl ?? sg + "s", kind: .thing, hyper: (hyper, hyperPl ?? hyper + "s"))
    }

    static let people: [PNoun] = [
        person("teacher"), person("farmer"), person("doctor"), person("student"), person("pilot"),
        person("baker"), person("lawyer"), person("nurse"), person("driver"), person("singer"),
        person("painter"), person("writer"), person("soldier"), person("sailor"), person("dancer"),
        person("judge"), person("chef"), person("clerk"), person("miner"), person("hunter"),
        person("man", "men"), person("woman", "women"), person("child", "children"), person("boy"), person("girl"),
    ]

    /// People nouns used only in MNLI's mismatched genres.
    static let otherPeople: [PNoun] = [
        person("firefighter"), person("officer"), person("engineer"), person("scientist"), person("banker"),
        person("actor"), person("plumber"), person("tourist"), person("guard"), person("vendor"),
    ]

    static let animals: [PNoun] = [
        animal("dog"), animal("cat"), animal("horse"), animal("bird"), animal("rabbit"), animal("fox", "foxes"),
        animal("wolf", "wolves"), animal("mouse", "mice"), animal("goat"), animal("duck"), animal("bear"),
        animal("lion"), animal("tiger"), animal("monkey"), animal("pig"),
    ]

    static let things: [PNoun] = [
        thing("ball", nil, "toy"), thing("kite", nil, "toy"), thing("doll", nil, "toy"),
        thing("book", nil, "object"), thing("letter", nil, "message"), thing("picture", nil, "object"),
        thing("apple", nil, "fruit", "fruit"), thing("pear", nil, "fruit", "fruit"), thing("orange", nil, "fruit", "fruit"),
        thing("car", nil, "vehicle"), thing("truck", nil, "vehicle"), thing("bike", nil, "vehicle"),
        thing("box", "boxes", "container"), thing("basket", nil, "container"), thing("bag", nil, "container"),
        thing("cake", nil, "food", "food"), thing("pie", nil, "food", "food"), thing("sandwich", "sandwiches", "food", "food"),
        thing("chair", nil, "piece of furniture", "furniture"), thing("table", nil, "piece of furniture", "furniture"),
        thing("coat", nil, "garment"), thing("hat", nil, "garment"), thing("shirt", nil, "garment"),
        thing("drum", nil, "instrument"), thing("guitar", nil, "instrument"), thing("violin", nil, "instrument"),
        thing("hammer", nil, "tool"), thing("key", nil, "object"), thing("lamp", nil, "object"), thing("cup", nil, "object"),
    ]

    static func v(_ base: String, _ s: String, _ past: String, _ ing: String, _ pp: String,
                  _ object: PVerb.Object?, _ synonym: String? = nil) -> PVerb {
        PVerb(base: base, s: s, past: past, ing: ing, pp: pp, object: object, synonym: synonym)
    }

    static let transitive: [PVerb] = [
        v("carry", "carries", "carried", "carrying", "carried", .thing),
        v("paint", "paints", "painted", "painting", "painted", .thing),
        v("clean", "cleans", "cleaned", "cleaning", "cleaned", .thing),
        v("push", "pushes", "pushed", "pushing", "pushed", .thing),
        v("pull", "pulls", "pulled", "pulling", "pulled", .thing),
        v("watch", "watches", "watched", "watching", "watched", .any),
        v("find", "finds", "found", "finding", "found", .thing, "discover"),
        v("discover", "discovers", "discovered", "discovering", "discovered", .thing, "find"),
        v("buy", "buys", "bought", "buying", "bought", .thing, "purchase"),
        v("purchase", "purchases", "purchased", "purchasing", "purchased", .thing, "buy"),
        v("sell", "sells", "sold", "selling", "sold", .thing),
        v("hold", "holds", "held", "holding", "held", .thing),
        v("see", "sees", "saw", "seeing", "seen", .any, "spot"),
        v("spot", "spots", "spotted", "spotting", "spotted", .any, "see"),
        v("take", "takes", "took", "taking", "taken", .thing, "grab"),
        v("grab", "grabs", "grabbed", "grabbing", "grabbed", .thing, "take"),
        v("throw", "throws", "threw", "throwing", "thrown", .thing, "toss"),
        v("toss", "tosses", "tossed", "tossing", "tossed", .thing, "throw"),
        v("fix", "fixes", "fixed", "fixing", "fixed", .thing, "repair"),
        v("repair", "repairs", "repaired", "repairing", "repaired", .thing, "fix"),
        v("wash", "washes", "washed", "washing", "washed", .thing),
        v("chase", "chases", "chased", "chasing", "chased", .animate, "pursue"),
        v("pursue", "pursues", "pursued", "pursuing", "pursued", .animate, "chase"),
        v("follow", "follows", "followed", "following", "followed", .animate),
        v("help", "helps", "helped", "helping", "helped", .person, "assist"),
        v("assist", "assists", "assisted", "assisting", "assisted", .person, "help"),
        v("call", "calls", "called", "calling", "called", .person, "phone"),
        v("phone", "phones", "phoned", "phoning", "phoned", .person, "call"),
        v("greet", "greets", "greeted", "greeting", "greeted", .person, "welcome"),
        v("welcome", "welcomes", "welcomed", "welcoming", "welcomed", .person, "greet"),
        v("visit", "visits", "visited", "visiting", "visited", .person),
    ]

    /// Strictly intransitive verbs (an object after them is ungrammatical).
    static let intransitive: [PVerb] = [
        v("sleep", "sleeps", "slept", "sleeping", "slept", nil),
        v("laugh", "laughs", "laughed", "laughing", "laughed", nil),
        v("arrive", "arrives", "arrived", "arriving", "arrived", nil),
        v("smile", "smiles", "smiled", "smiling", "smiled", nil),
        v("sneeze", "sneezes", "sneezed", "sneezing", "sneezed", nil),
        v("yawn", "yawns", "yawned", "yawning", "yawned", nil),
        v("fall", "falls", "fell", "falling", "fallen", nil),
        v("cry", "cries", "cried", "crying", "cried", nil),
    ]

    /// Activities of an agent that exclude one another at one time.
    static let activities: [[String]] = [
        ["sleeping", "running", "dancing", "swimming", "singing", "cooking"],
        ["sitting", "standing"],
        ["laughing", "crying"],
    ]

    static func verb(_ base: String) -> PVerb {
        if let v = transitive.first(where: { $0.base == base }) { return v }
        return intransitive.first(where: { $0.base == base })!
    }

    static let places: [PPlace] = [
        PPlace(prep: "in", noun: "park"), PPlace(prep: "in", noun: "garden"), PPlace(prep: "in", noun: "kitchen"),
        PPlace(prep: "at", noun: "market"), PPlace(prep: "at", noun: "station"), PPlace(prep: "in", noun: "library"),
        PPlace(prep: "near", noun: "river"), PPlace(prep: "in", noun: "village"), PPlace(prep: "at", noun: "school"),
        PPlace(prep: "in", noun: "forest"), PPlace(prep: "on", noun: "beach"), PPlace(prep: "at", noun: "harbor"),
        PPlace(prep: "in", noun: "city"), PPlace(prep: "at", noun: "museum"),
    ]

    static let times: [[String]] = [
        ["on", "Monday"], ["on", "Tuesday"], ["on", "Wednesday"], ["on", "Thursday"], ["on", "Friday"],
        ["on", "Saturday"], ["on", "Sunday"], ["in", "the", "morning"], ["in", "the", "afternoon"],
        ["in", "the", "evening"], ["yesterday"], ["last", "week"], ["last", "year"],
    ]

    static let thingAdjectives: [PAdjective] = [
        PAdjective(word: "big", synonym: "large", antonym: "small"),
        PAdjective(word: "small", synonym: "little", antonym: "big"),
        PAdjective(word: "old", synonym: nil, antonym: "new"),
        PAdjective(word: "new", synonym: nil, antonym: "old"),
        PAdjective(word: "heavy", synonym: nil, antonym: "light"),
        PAdjective(word: "clean", synonym: nil, antonym: "dirty"),
        PAdjective(word: "dirty", synonym: "filthy", antonym: "clean"),
        PAdjective(word: "empty", synonym: nil, antonym: "full"),
        PAdjective(word: "wet", synonym: "damp", antonym: "dry"),
        PAdjective(word: "cheap", synonym: "inexpensive", antonym: "expensive"),
    ]

    static let colors = ["red", "blue", "green", "yellow", "black", "white", "brown"]

    static let personAdjectives: [PAdjective] = [
        PAdjective(word: "happy", synonym: "glad", antonym: "sad"),
        PAdjective(word: "sad", synonym: "unhappy", antonym: "happy"),
        PAdjective(word: "tired", synonym: "sleepy", antonym: "rested"),
        PAdjective(word: "angry", synonym: "furious", antonym: "calm"),
        PAdjective(word: "young", synonym: nil, antonym: "old"),
        PAdjective(word: "tall", synonym: nil, antonym: "short"),
        PAdjective(word: "quiet", synonym: "silent", antonym: "loud"),
        PAdjective(word: "rich", synonym: "wealthy", antonym: "poor"),
    ]

    static func adjective(_ word: String) -> PAdjective? {
        (thingAdjectives + personAdjectives).first { $0.word == word }
    }

    // SST-2.
    static let aspects = [
        "the acting", "the plot", "the script", "the music", "the story", "the film", "the movie",
        "the dialogue", "the cast", "the ending", "the direction", "the pacing", "the cinematography",
        "the soundtrack", "the humor", "the performances", "the screenplay", "the characters",
    ]
    static let positive = [
        "wonderful", "brilliant", "charming", "moving", "delightful", "gripping", "funny", "clever",
        "beautiful", "superb", "fresh", "powerful", "touching", "witty", "stunning", "engaging",
        "heartfelt", "sharp", "lovely", "inventive",
    ]
    static let negative = [
        "dull", "boring", "tedious", "clumsy", "bland", "awful", "lifeless", "predictable", "messy",
        "shallow", "tiresome", "weak", "stale", "painful", "forgettable", "flat", "sloppy", "pointless",
        "lazy", "dreary",
    ]
    static let intensifiers = ["very", "truly", "quite", "remarkably", "rather", "simply", "often", "really"]
    static let fillers = [
        ["in", "the", "second", "half"], ["for", "most", "of", "its", "running", "time"],
        ["from", "start", "to", "finish"], ["at", "times"], ["on", "the", "whole"],
        ["by", "any", "standard"], ["for", "a", "summer", "release"], ["in", "its", "own", "way"],
    ]
    /// Off-topic sentiment distractors (a clause about something other than the film).
    static let offTopic = [
        ["the", "popcorn", "was"], ["the", "theater", "was"], ["the", "weather", "outside", "was"],
        ["my", "seat", "was"], ["the", "trailer", "was"],
    ]

    // QQP.
    static let topics = [
        "python", "java", "guitar", "piano", "swimming", "cooking", "photography", "chess", "painting",
        "public speaking", "spanish", "french", "german", "yoga", "running", "drawing", "machine learning",
        "web design", "accounting", "singing", "dancing", "knitting", "gardening", "baking", "creative writing",
        "marketing", "statistics", "calculus", "history", "chemistry", "boxing", "tennis", "video editing",
        "poetry", "economics", "physics",
    ]

    /// Question templates per intent; `{T}` and `{U}` are topics.
    static let intents: [(name: String, templates: [String], symmetric: Bool?)] = [
        ("learn", ["How can I learn {T}?", "What is the best way to learn {T}?",
                   "How do I get started with learning {T}?", "What should I do to learn {T} quickly?",
                   "Where should a beginner start with {T}?"], nil),
        ("improve", ["How can I improve my {T} skills?", "How do I get better at {T}?",
                     "What are some ways to improve at {T}?", "How can I become really good at {T}?"], nil),
        ("benefits", ["What are the benefits of {T}?", "Why is {T} good for you?",
                      "What are the advantages of learning {T}?", "What do people gain from {T}?"], nil),
        ("cost", ["How much does it cost to learn {T}?", "What is the cost of {T} lessons?",
                  "How expensive is it to take up {T}?", "Are {T} classes expensive?"], nil),
        ("time", ["How long does it take to learn {T}?", "How many months does it take to become good at {T}?",
                  "How much time do I need to master {T}?"], nil),
        ("career", ["Can I make a living from {T}?", "Is {T} a good career choice?",
                    "What jobs can I get with {T}?", "Can {T} be a full time job?"], nil),
        ("difference", ["What is the difference between {T} and {U}?", "How is {T} different from {U}?",
                        "What are the main differences between {T} and {U}?"], true),
        ("switch", ["How do I switch from {T} to {U}?", "What is the best way to move from {T} to {U}?",
                    "How can I go from {T} to {U}?"], false),
    ]
    static let questionFillers = ["as a beginner", "at home", "in 2017", "without a teacher", "on my own", "as an adult"]

    // WNLI schemas: "The A <verb phrase> the B because <pronoun> <predicate>." The first
    // predicate of a pair points at A, the second at B.
    static let schemas: [(verb: String, predicates: (String, String), kinds: (PNoun.Kind, PNoun.Kind))] = [
        ("could not lift", ("was too weak", "was too heavy"), (.person, .thing)),
        ("could not lift", ("was too weak", "was too heavy"), (.person, .person)),
        ("did not fit into", ("was too big", "was too small"), (.thing, .thing)),
        ("ran away from", ("was scared", "was angry"), (.animal, .person)),
        ("ran away from", ("was scared", "was angry"), (.person, .person)),
        ("thanked", ("was grateful", "had been kind"), (.person, .person)),
        ("beat", ("was stronger", "was weaker"), (.person, .person)),
        ("beat", ("was stronger", "was weaker"), (.animal, .animal)),
        ("could not see", ("was too far away", "was hidden"), (.person, .thing)),
        ("waited for", ("was early", "was late"), (.person, .person)),
        ("paid", ("owed money", "had done the work"), (.person, .person)),
        ("chased", ("was hungry", "looked tasty"), (.animal, .animal)),
    ]

    // MNLI genres and their framing.
    static let matchedGenres = ["fiction", "government", "slate", "telephone", "travel"]
    static let mismatchedGenres = ["facetoface", "letters", "nineeleven", "oup", "verbatim"]
    static let genrePrefixes: [String: [[String]]] = [
        "fiction": [[], ["Later", ","], ["At", "last", ","]],
        "government": [["According", "to", "the", "report", ","], ["Officials", "said", "that"]],
        "slate": [["Critics", "say", "that"], ["As", "usual", ","]],
        "telephone": [["well", "you", "know"], ["yeah", "so"], ["uh"]],
        "travel": [["Visitors", "will", "find", "that"], ["Every", "summer", ","]],
        "facetoface": [["so", "um"], ["okay", "so"]],
        "letters": [["Dear", "friend", ","], ["We", "are", "pleased", "that"]],
        "nineeleven": [["At", "9:03", ","], ["The", "commission", "found", "that"]],
        "oup": [["In", "this", "chapter", ","], ["Historically", ","]],
        "verbatim": [["Quote", ":"], ["As", "the", "saying", "goes", ","]],
    ]

    static let colaSources = ["gj04", "bc01", "ks08", "r-67", "w_80", "c_13", "m_02", "sks13", "ad03", "cj99", "l-93", "clc95"]
    static let stsbSources: [(genre: String, file: String, years: [String])] = [
        ("main-captions", "MSRvid", ["2012test", "2012train"]), ("main-captions", "images", ["2014", "2015"]),
        ("main-news", "headlines", ["2013", "2014", "2015", "2016"]), ("main-news", "MSRpar", ["2012test", "2012train"]),
        ("main-forum", "deft-forum", ["2014"]), ("main-forum", "answers-forums", ["2015"]),
    ]
}

// MARK: - Small helpers

extension RNG {
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    mutating func chance(_ p: Double) -> Bool { Double(uniform()) < p }
    /// Two distinct indices in 0..<n.
    mutating func distinctPair(_ n: Int) -> (Int, Int) {
        let i = int(n)
        var j = int(n - 1)
        if j >= i { j += 1 }
        return (i, j)
    }
    /// An element of `a` other than `not` (by predicate).
    mutating func pick<T>(_ a: [T], other: (T) -> Bool) -> T {
        let pool = a.filter { !other($0) }
        return pool[int(pool.count)]
    }
}

/// "a" or "an" before `word` (by its first letter).
func indefinite(_ word: String) -> String {
    guard let c = word.lowercased().first else { return "a" }
    return "aeiou".contains(c) ? "an" : "a"
}

/// Upper-cases the first letter.
func capitalized(_ s: String) -> String {
    guard let f = s.first else { return s }
    return f.uppercased() + s.dropFirst()
}

/// Joins tokens into a sentence. `tokenized`: every token separated by a space (SST-2 and
/// MRPC style, "it 's good ."); otherwise punctuation attaches to the previous word.
func joinTokens(_ tokens: [String], tokenized: Bool) -> String {
    if tokenized { return tokens.joined(separator: " ") }
    var out = ""
    for t in tokens where !t.isEmpty {
        if out.isEmpty { out = t; continue }
        if [".", ",", "?", "!", ":", ";", "'s"].contains(t) { out += t } else { out += " " + t }
    }
    return out
}
