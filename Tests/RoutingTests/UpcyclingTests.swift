import Foundation
import Routing
import TestSupport
import XCTest

/// Sparse upcycling: with 8 experts that are copies of one FFN, Switch, top-2 and top-p with
/// `renormalize` compute exactly that FFN; without it their outputs are as before (the raw
/// probabilities scale the expert outputs).
final class UpcyclingTests: XCTestCase {
    let d = 8, h = 16, E = 8, T = 23

    /// The module for `method` with every expert set to a copy of expert 0.
    func upcycled(_ method: String, _ opts: [String: OptionValue], seed: UInt64 = 4) throws -> (FFNLayer & Module, ExpertWeights) {
        var rng = RNG(seed: seed)
        let options = MethodOptions(method: method, opts)
        let m: FFNLayer & Module
        switch method {
        case "switch": m = try SwitchTop1(d: d, hidden: h, options: options, rng: &rng)
        case "top2": m = try Top2(d: d, hidden: h, options: options, rng: &rng)
        default: m = try DynamicTopP(d: d, hidden: h, options: options, rng: &rng)
        }
        let w: ExpertWeights
        switch m {
        case let s as SwitchTop1: w = s.expertWeights
        case let s as Top2: w = s.expertWeights
        case let s as DynamicTopP: w = s.expertWeights
        default: fatalError()
        }
        for t in [w.w1, w.b1, w.w2, w.b2] {
            let per = t.count / E
            for e in 1..<E { for k in 0..<per { t.data[e * per + k] = t.data[k] } }
        }
        return (m, w)
    }

    /// The single FFN: expert 0, `W2 gelu(W1 x + b1) + b2`.
    func ffn(_ w: ExpertWeights, _ x: Tensor) -> Tensor {
        func slice(_ t: Tensor, _ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: t.data, count: shape.reduce(1, *))))
        }
        return linear(linear(x, slice(w.w1, [d, h]), slice(w.b1, [h])).gelu(), slice(w.w2, [h, d]), slice(w.b2, [d]))
    }

    func input(_ seed: UInt64 = 9) -> Tensor {
        var rng = RNG(seed: seed)
        return Tensor.randn([T, d], rng: &rng)
    }

    func testRenormalizedUpcyclingComputesThePretrainedFFN() throws {
        let x = input()
        for (method, opts) in [("switch", ["renormalize": OptionValue.bool(true), "dropless": .bool(true)]),
                               ("top2", ["renormalize": .bool(true), "dropless": .bool(true)]),
                               ("top2", ["dropless": .bool(true)]),   // GShard's default renormalisation
                               ("topp", ["renormalize": .bool(true)]),
                               ("topp", ["renormalize": .bool(true), "tau": .double(0.9)])] {
            let (m, w) = try upcycled(method, opts)
            let ref = ffn(w, x).scalars
            for training in [false, true] {
                var ctx = Fixture.context(training: training)
                let y = Autograd.noGrad { m.forward(x, layer: 0, context: &ctx).y }
                assertClose(y.scalars, ref, atol: 1e-5, rtol: 0, "\(method) \(opts) training \(training)")
            }
        }
    }

    /// Switch's renormalised gate is 1 in value, yet the task loss reaches the router.
    func testSwitchRenormalizedKeepsARouterGradient() throws {
        let (m, _) = try upcycled("switch", ["renormalize": .bool(true), "dropless": .bool(true)])
        var ctx = Fixture.context(training: true)
        Fixture.weightedSum(m.forward(input(), layer: 0, context: &ctx).y).backward()   // task loss only
        XCTAssertTrue(Fixture.hasGradient((m as! SwitchTop1).router))
        let (p, _) = try upcycled("topp", ["renormalize": .bool(true)])
        var c2 = Fixture.context(training: true)
        Fixture.weightedSum(p.forward(input(), layer: 0, context: &c2).y).backward()
        XCTAssertTrue(Fixture.hasGradient((p as! DynamicTopP).router))
    }

    /// Without the option: Switch and top-p scale the FFN by the raw probabilities of the
    /// chosen experts (their sum), top-2 with `renormalize: false` too; so the pretrained
    /// function is not kept.
    func testWithoutRenormalizationTheRawProbabilitiesScaleTheOutput() throws {
        let x = input()
        for (method, opts) in [("switch", ["dropless": OptionValue.bool(true)]), ("topp", [:]),
                               ("top2", ["renormalize": .bool(false), "dropless": .bool(true)])] {
            let (m, w) = try upcycled(method, opts)
            let router: Tensor
            switch m {
            case let s as SwitchTop1: router = s.router
            case let s as Top2: router = s.router
            default: router = (m as! DynamicTopP).router
            }
            let p = Autograd.noGrad { linear(x, router).softmax(axis: -1) }.scalars
            var ctx = Fixture.context()
            let out = Autograd.noGrad { m.forward(x, layer: 0, context: &ctx) }
            let ref = ffn(w, x).scalars
            var expected = [Float](repeating: 0, count: T * d)
            var chosen = out.stats.chosenHistogram
            chosen[0] = 0
            // The chosen experts of every token are the largest probabilities, in order.
            for t in 0..<T {
                let row = Array(p[(t * E)..<(t * E + E)]).sorted(by: >)
                let k: Int
                switch method {
                case "switch": k = 1
                case "top2": k = 2
                default:
                    var mass: Float = 0, n = 0
                    for v in row { n += 1; mass += v; if mass > 0.4 { break } }
                    k = n
                }
                let g = row[0..<k].reduce(0, +)
                for c in 0..<d { expected[t * d + c] = g * ref[t * d + c] }
            }
            assertClose(out.y.scalars, expected, atol: 1e-5, rtol: 1e-4, "\(method) \(opts)")
            let diff = zip(out.y.scalars, ref).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(diff, 1e-2, "\(method): raw gates do not keep the FFN")
        }
    }

    func testOptionDefaults() throws {
        XCTAssertEqual(OptionDefaults.defaults(of: try MethodRegistry.method("switch"))["renormalize"], "false")
        XCTAssertEqual(OptionDefaults.defaults(of: try MethodRegistry.method("top2"))["renormalize"], "true")
        XCTAssertEqual(OptionDefaults.defaults(of: try MethodRegistry.method("topp"))["renormalize"], "false")
    }
}
