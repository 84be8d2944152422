import Routing
import TestSupport
import XCTest

/// Routing decisions on hand-built router probabilities.
final class GatingTests: XCTestCase {
    /// A row of `E` probabilities with `top` at expert `e` and the rest spread evenly.
    func row(_ e: Int, _ top: Float, _ E: Int) -> [Float] {
        (0..<E).map { $0 == e ? top : (1 - top) / Float(E - 1) }
    }

    func testCapacityFormula() {
        XCTAssertEqual(Gating.capacity(tokens: 100, experts: 8, factor: 1.25), 15)   // floor(15.625)
        XCTAssertEqual(Gating.capacity(tokens: 100, experts: 8, factor: 2.0), 25)
        XCTAssertEqual(Gating.capacity(tokens: 16, experts: 8, factor: 1.25), 4)     // floor(2.5) -> minimum 4
        XCTAssertEqual(Gating.capacity(tokens: 16, experts: 8, factor: 1.25, minimum: 1), 2)
        XCTAssertEqual(Gating.capacity(tokens: 100, experts: 8, factor: 1.25, choices: 2), 31)  // floor(31.25)
        XCTAssertEqual(Gating.capacity(tokens: 10, experts: 2, factor: 1.0), 5)
    }

    func testTop1DropsTokensBeyondCapacityInTokenOrder() {
        // Expert choices per token: 0 0 1 0 0 1 0 0 1 0; capacity floor(10·1/2) = 5.
        let choices = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0]
        var probs = [Float]()
        for (t, e) in choices.enumerated() { probs += row(e, 0.6 + 0.01 * Float(t), 2) }
        let cap = Gating.capacity(tokens: 10, experts: 2, factor: 1.0)
        let plan = Gating.top1(probs: probs, tokens: 10, experts: 2, capacity: cap)
        XCTAssertEqual(plan.assignments.map(\.expert), choices)
        XCTAssertEqual(plan.assignments.map(\.slot), [0, 1, 0, 2, 3, 1, 4, 5, 2, 6])
        XCTAssertEqual(plan.assignments.map(\.kept), [true, true, true, true, true, true, true, false, true, false])
        XCTAssertEqual(plan.droppedCount, 2)
        XCTAssertEqual(plan.assignedPerExpert, [7, 3])
        XCTAssertEqual(plan.keptPerExpert, [5, 3])
        XCTAssertEqual(plan.chosenHistogram, [0, 10, 0])
        XCTAssertEqual(plan.top1, choices)
        assertClose(plan.top1Fractions, [0.7, 0.3])
        // Gates: the raw top probability (not renormalised), 0 when dropped.
        let expected: [Float] = (0..<10).map { plan.assignments[$0].kept ? 0.6 + 0.01 * Float($0) : 0 }
        assertClose(plan.assignments.map(\.gate), expected)
    }

    func testTop1MinimumCapacityOfFour() {
        // 6 tokens, 2 experts, factor 1: floor(3) = 3 but the minimum is 4.
        let probs = (0..<6).flatMap { _ in row(0, 0.9, 2) }
        let cap = Gating.capacity(tokens: 6, experts: 2, factor: 1.0)
        XCTAssertEqual(cap, 4)
        let plan = Gating.top1(probs: probs, tokens: 6, experts: 2, capacity: cap)
        XCTAssertEqual(plan.assignments.map(\.kept), [true, true, true, true, false, false])
    }

    func testTop1DroplessKeepsEverything() {
        let probs = (0..<6).flatMap { _ in row(1, 0.7, 3) }
        let plan = Gating.top1(probs: probs, tokens: 6, experts: 3, capacity: nil)
        XCTAssertEqual(plan.droppedCount, 0)
        XCTAssertEqual(plan.assignments.map(\.slot), [0, 1, 2, 3, 4, 5])
        XCTAssertNil(plan.capacity)
    }

    func testArgmaxTiesGoToTheLowerExpert() {
        let probs: [Float] = [0.4, 0.4, 0.2,
                              0.2, 0.4, 0.4,
                              0.25, 0.25, 0.5]
        let p1 = Gating.top1(probs: probs, tokens: 3, experts: 3, capacity: nil)
        XCTAssertEqual(p1.assignments.map(\.expert), [0, 1, 2])
        let p2 = Gating.top2(probs: probs, tokens: 3, experts: 3, capacity: nil)
        XCTAssertEqual(p2.assignments.map(\.expert), [0, 1, 1, 2, 2, 0])
        let uniform = [Float](repeating: 0.25, count: 4)
        XCTAssertEqual(Gating.top2(probs: uniform, tokens: 1, experts: 4, capacity: nil).assignments.map(\.expert), [0, 1])
    }

    func testTop2PlacesAllFirstChoicesBeforeSecondChoices() {
        let probs: [Float] = [0.5, 0.3, 0.2,    // t0: e1 = 0, e2 = 1
                              0.6, 0.1, 0.3,    // t1: e1 = 0, e2 = 2
                              0.3, 0.6, 0.1,    // t2: e1 = 1, e2 = 0
                              0.7, 0.2, 0.1,    // t3: e1 = 0, e2 = 1
                              0.4, 0.35, 0.25]  // t4: e1 = 0, e2 = 1
        let plan = Gating.top2(probs: probs, tokens: 5, experts: 3, capacity: 3)
        XCTAssertEqual(plan.tokenOffsets, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(plan.assignments.map(\.expert), [0, 1, 0, 2, 1, 0, 0, 1, 0, 1])
        XCTAssertEqual(plan.assignments.map(\.rank), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
        // Expert 0: first choices t0, t1, t3, t4 -> slots 0, 1, 2, 3 (t4 dropped); its kept
        // first-choice count is min(4, 3) = 3, so t2's second choice takes slot 3 (dropped).
        // Expert 1: first choice t2 -> slot 0, then second choices t0, t3, t4 -> 1, 2, 3.
        // Expert 2: second choice t1 -> slot 0.
        XCTAssertEqual(plan.assignments.map(\.slot), [0, 1, 1, 0, 0, 3, 2, 2, 3, 3])
        XCTAssertEqual(plan.assignments.map(\.kept), [true, true, true, true, true, false, true, true, false, false])
        XCTAssertEqual(plan.droppedCount, 3)
        XCTAssertEqual(plan.chosenHistogram, [0, 0, 5, 0])
        XCTAssertEqual(plan.top1, [0, 0, 1, 0, 0])
        // Renormalised gates g / (g1 + g2 + 1e-9), zeroed where dropped.
        let expected: [Float] = [0.5 / 0.8, 0.3 / 0.8, 0.6 / 0.9, 0.3 / 0.9, 0.6 / 0.9, 0,
                                 0.7 / 0.9, 0.2 / 0.9, 0, 0]
        assertClose(plan.assignments.map(\.gate), expected, atol: 1e-6)
    }

    func testTop2CapacityFormulaAndDropless() {
        XCTAssertEqual(Gating.capacity(tokens: 5, experts: 3, factor: 1.25, choices: 2), 4)  // floor(4.17)
        let probs = (0..<8).flatMap { _ in [Float](arrayLiteral: 0.6, 0.3, 0.1) }
        let dropless = Gating.top2(probs: probs, tokens: 8, experts: 3, capacity: nil)
        XCTAssertEqual(dropless.droppedCount, 0)
        // Expert 1's second-choice slots start after expert 1's (zero) first choices.
        XCTAssertEqual(dropless.assignments.filter { $0.rank == 1 }.map(\.slot), Array(0..<8))
        let capped = Gating.top2(probs: probs, tokens: 8, experts: 3, capacity: 4)
        XCTAssertEqual(capped.assignments.filter { $0.rank == 0 }.map(\.kept), [true, true, true, true, false, false, false, false])
        XCTAssertEqual(capped.assignments.filter { $0.rank == 1 }.map(\.kept), [true, true, true, true, false, false, false, false])
    }

    func testTop2RandomSecondPolicy() {
        // Even tokens: g2 = 0.3 / 1.0 >= 0.2: always dispatched. Odd tokens: g2 = 0.05:
        // dispatched with probability 0.25.
        let T = 2000
        var probs = [Float]()
        for t in 0..<T { probs += t % 2 == 0 ? [0.7, 0.3] : [0.95, 0.05] }
        let plan = Gating.top2(probs: probs, tokens: T, experts: 2, capacity: nil,
                               random: RandomSecondPolicy(threshold: 0.2, rng: RNG(seed: 5)))
        var evenSecond = 0, oddSecond = 0
        for t in 0..<T {
            let n = plan.tokenOffsets[t + 1] - plan.tokenOffsets[t]
            if n == 2 { if t % 2 == 0 { evenSecond += 1 } else { oddSecond += 1 } }
        }
        XCTAssertEqual(evenSecond, T / 2)
        // Binomial(1000, 0.25): mean 250, sd 13.7.
        XCTAssertGreaterThan(oddSecond, 250 - 55)
        XCTAssertLessThan(oddSecond, 250 + 55)
        XCTAssertEqual(plan.chosenHistogram, [0, T / 2 - oddSecond, T / 2 + oddSecond])
        // The first gate keeps its top-2 normalisation.
        assertClose([plan.assignments[plan.tokenOffsets[1]].gate], [0.95 / 1.0], atol: 1e-6)
    }

    func testTopPThresholds() {
        // Exact binary fractions: cumulative sums 0.5, 0.75, 0.875, 1.0.
        let p: [Float] = [0.125, 0.5, 0.125, 0.25]
        func kept(_ tau: Float, kMax: Int? = nil) -> [Int] {
            Gating.topP(probs: p, tokens: 1, experts: 4, tau: tau, kMax: kMax).assignments.map(\.expert)
        }
        XCTAssertEqual(kept(0.5), [1, 3])              // exactly at tau: 0.5 is not > 0.5
        XCTAssertEqual(kept(0.4999), [1])              // just under: the first crosses
        XCTAssertEqual(kept(0.5001), [1, 3])           // just over
        XCTAssertEqual(kept(0.75), [1, 3, 0])          // ties between experts 0 and 2: lower first
        XCTAssertEqual(kept(0.0), [1])                 // at least one
        XCTAssertEqual(kept(1.0), [1, 3, 0, 2])        // no prefix exceeds tau: all
        XCTAssertEqual(kept(0.75, kMax: 2), [1, 3])    // the cap
        XCTAssertEqual(kept(0.4, kMax: 2), [1])
        let plan = Gating.topP(probs: p, tokens: 1, experts: 4, tau: 0.6)
        assertClose(plan.assignments.map(\.gate), [0.5, 0.25])  // raw probabilities
        XCTAssertEqual(plan.assignments.map(\.rank), [0, 1])
        XCTAssertNil(plan.capacity)
    }

    func testTopPDefaultTauOnSeveralTokensAndTies() {
        let probs: [Float] = [0.25, 0.25, 0.25, 0.25,   // cum .25 .5: 2 experts (0, 1)
                              0.1, 0.45, 0.3, 0.15,     // .45 > .4: 1 expert (1)
                              0.2, 0.1, 0.35, 0.35]     // .35 .70: experts 2, 3
        let plan = Gating.topP(probs: probs, tokens: 3, experts: 4, tau: 0.4)
        XCTAssertEqual(plan.tokenOffsets, [0, 2, 3, 5])
        XCTAssertEqual(plan.assignments.map(\.expert), [0, 1, 1, 2, 3])
        XCTAssertEqual(plan.assignments.map(\.slot), [0, 0, 1, 0, 0])
        XCTAssertEqual(plan.chosenHistogram, [0, 1, 2, 0, 0])
        XCTAssertEqual(plan.top1, [0, 1, 2])
    }

    func testTopKOnScoresWithSoftmaxGates() {
        let scores: [Float] = [1, 3, 2, 0,
                               0, 0, 5, 5]
        let plan = Gating.topK(scores: scores, tokens: 2, experts: 4, k: 2)
        XCTAssertEqual(plan.assignments.map(\.expert), [1, 2, 2, 3])
        let a = 1 / (1 + expf(-1))
        assertClose(plan.assignments.map(\.gate), [a, 1 - a, 0.5, 0.5])
    }

    func testHierarchicalPicksGroupThenExpertInside() {
        // 2 groups of 2 experts. Token 0: group 1, expert 3 (inside: 0.3 vs 0.7).
        // Token 1: group 0; inside probabilities tie -> expert 0.
        let q: [Float] = [0.4, 0.6, 0.8, 0.2]
        let r: [Float] = [0.9, 0.1, 0.3, 0.7,
                          0.5, 0.5, 0.1, 0.9]
        let plan = Gating.hierarchical(groupProbs: q, expertProbs: r, tokens: 2, groups: 2, experts: 4)
        XCTAssertEqual(plan.assignments.map(\.expert), [3, 0])
        assertClose(plan.assignments.map(\.gate), [0.6 * 0.7, 0.8 * 0.5])
    }

    func testSoftSendsEveryTokenToEveryExpert() {
        let probs: [Float] = [0.2, 0.8, 0.6, 0.4]
        let plan = Gating.all(probs: probs, tokens: 2, experts: 2)
        XCTAssertEqual(plan.assignments.map(\.expert), [0, 1, 0, 1])
        XCTAssertEqual(plan.assignments.map(\.gate), probs)
        XCTAssertEqual(plan.top1, [1, 0])
        XCTAssertEqual(plan.flatIndices, [0, 1, 2, 3])
    }

    func testGatherEntriesGradient() {
        var rng = RNG(seed: 3)
        let x = randomTensor([3, 4], &rng)
        let idx = [0, 5, 5, 11, 2]
        assertClose(gatherEntries(x, idx), idx.map { x.scalars[$0] })
        checkGradients([x]) { gatherEntries($0[0], idx) }
    }
}
