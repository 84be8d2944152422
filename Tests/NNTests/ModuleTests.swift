import NN
import TestSupport
import XCTest

private final class FFN: Module {
    let w1: Tensor
    let w2: Tensor
    let width = 3                              // not a tensor: ignored
    let frozen = Tensor(zeros: [2])            // a leaf without requiresGrad: state, not parameter

    init(rng: inout RNG) {
        w1 = Init.normal([4, 3], std: 0.02, rng: &rng)
        w2 = Init.normal([3, 4], std: 0.02, rng: &rng)
    }
}

private final class Block: Module {
    let ffn: FFN
    var gain = Init.ones([4])

    init(rng: inout RNG) { ffn = FFN(rng: &rng) }
}

private class Base: Module {
    let baseWeight = Init.zeros([2])
}

private final class Derived: Base {
    let derivedWeight = Init.ones([3])
}

private final class Net: Module {
    let embed: Tensor
    let blocks: [Block]
    let absent: Linear? = nil
    let present: Linear?
    let head: Linear                           // tied to `embed`
    let grid: [[Linear]]
    let byName: [String: Tensor]
    let derived = Derived()
    let table = [Float](repeating: 1, count: 10_000)
    lazy var late: Linear = Linear(weight: Init.zeros([2, 2]), bias: nil)
    let opt: [Tensor?]

    init(rng: inout RNG) {
        embed = Init.normal([5, 4], std: 0.02, rng: &rng)
        let shared = Block(rng: &rng)
        blocks = [Block(rng: &rng), shared, shared]   // `shared` twice: listed once
        present = Linear(4, 2, rng: &rng)
        head = Linear(weight: embed, bias: Init.zeros([4]))
        grid = [[Linear(2, 2, bias: false, rng: &rng)], [Linear(2, 2, bias: false, rng: &rng)]]
        byName = ["zeta": Init.zeros([1]), "alpha": Init.ones([1])]
        opt = [nil, Init.zeros([6])]
    }
}

final class ModuleTests: XCTestCase {
    func testDiscoveryNamesAndOrder() {
        var rng = RNG(seed: 1)
        let net = Net(rng: &rng)
        let names = net.namedParameters().map { $0.0 }
        XCTAssertEqual(names, [
            "embed",
            "blocks.0.ffn.w1", "blocks.0.ffn.w2", "blocks.0.gain",
            "blocks.1.ffn.w1", "blocks.1.ffn.w2", "blocks.1.gain",
            "present.weight", "present.bias",
            "head.bias",                       // head.weight is `embed`, already listed
            "grid.0.0.weight", "grid.1.0.weight",
            "byName.alpha", "byName.zeta",
            "derived.baseWeight", "derived.derivedWeight",
            "opt.1",
        ])
        // The lazy layer appears once it exists.
        _ = net.late
        XCTAssertEqual(net.namedParameters().last?.0, "opt.1")
        XCTAssertTrue(net.namedParameters().contains { $0.0 == "late.weight" })
        // Frozen leaves are state, not parameters.
        let state = net.namedTensors().map { $0.0 }
        XCTAssertTrue(state.contains("blocks.0.ffn.frozen"))
        XCTAssertFalse(names.contains("blocks.0.ffn.frozen"))
        // Stable: a second module built from the same seed has the same names.
        var rng2 = RNG(seed: 1)
        XCTAssertEqual(Net(rng: &rng2).namedParameters().map { $0.0 }, names)
    }

    func testSharedWeightsListedOnceAndCounted() {
        var rng = RNG(seed: 2)
        let net = Net(rng: &rng)
        let params = net.parameters()
        XCTAssertEqual(Set(params.map { ObjectIdentifier($0) }).count, params.count)
        XCTAssertTrue(params.contains { $0 === net.head.weight })
        // embed 20, two distinct blocks 2·(12+12+4), present 8+2, head.bias 4, grid 4+4,
        // byName 1+1, derived 2+3, opt 6.
        XCTAssertEqual(net.parameterCount, 20 + 2 * 28 + 10 + 4 + 8 + 2 + 5 + 6)
    }

    func testModuleNamesAndCycles() {
        final class Node: Module {
            let w = Init.ones([1])
            var child: Node?
            weak var parent: Node?
        }
        let root = Node(), leaf = Node()
        root.child = leaf
        leaf.parent = root                    // a back reference must not loop
        XCTAssertEqual(root.namedModules().map { $0.0 }, ["", "child"])
        XCTAssertEqual(root.namedParameters().map { $0.0 }, ["w", "child.w"])
    }

    func testGraphOutputsAreNotParameters() {
        final class Cache: Module {
            let w = Init.ones([2])
            var last: Tensor?
        }
        let m = Cache()
        m.last = m.w * 2                       // a recorded op output holding requiresGrad
        XCTAssertEqual(m.namedParameters().map { $0.0 }, ["w"])
        Autograd.reset()
    }

    func testTrainEvalIsRecursive() {
        var rng = RNG(seed: 3)
        let net = Net(rng: &rng)
        XCTAssertTrue(net.namedModules().allSatisfy { $0.1.isTraining })
        net.eval()
        XCTAssertTrue(net.namedModules().allSatisfy { !$0.1.isTraining })
        XCTAssertFalse(net.blocks[2].ffn.isTraining)
        net.train()
        XCTAssertTrue(net.namedModules().allSatisfy { $0.1.isTraining })
    }

    func testZeroGrad() {
        var rng = RNG(seed: 4)
        let layer = Linear(3, 2, rng: &rng)
        let x = Tensor(shape: [1, 3], scalars: [1, 2, 3])
        layer(x).backward()
        XCTAssertNotNil(layer.weight.gradStorage)
        XCTAssertNotNil(layer.bias?.gradStorage)
        layer.zeroGrad()
        XCTAssertNil(layer.weight.gradStorage)
        XCTAssertNil(layer.bias?.gradStorage)
    }

    func testLinearForwardAndInit() {
        // y = x·W + b with W = [[1, 2], [3, 4], [5, 6]], b = [0.5, -1]:
        // row [1, 0, -1] -> [1 - 5 + 0.5, 2 - 6 - 1] = [-3.5, -5].
        let layer = Linear(weight: Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true),
                           bias: Tensor(shape: [2], scalars: [0.5, -1], requiresGrad: true))
        assertClose(layer(Tensor(shape: [1, 3], scalars: [1, 0, -1])), [-3.5, -5])
        XCTAssertEqual(layer.namedParameters().map { $0.0 }, ["weight", "bias"])

        var rng = RNG(seed: 5)
        let big = Linear(16, 32, rng: &rng)
        XCTAssertEqual(big.weight.shape, [16, 32])
        XCTAssertEqual(big.bias?.shape, [32])
        XCTAssertTrue(big.weight.requiresGrad && big.bias!.requiresGrad)
        // PyTorch's default: U(±1/sqrt(16)) = U(±0.25).
        XCTAssertTrue(big.weight.scalars.allSatisfy { abs($0) <= 0.25 })
        XCTAssertGreaterThan(big.weight.scalars.map { abs($0) }.max()!, 0.2)
        XCTAssertNil(Linear(4, 4, bias: false, rng: &rng).bias)
    }

    func testInitializers() {
        var rng = RNG(seed: 6)
        let w = Init.xavierUniform(fanIn: 100, fanOut: 50, rng: &rng)
        XCTAssertEqual(w.shape, [100, 50])
        XCTAssertTrue(w.requiresGrad)
        let bound = Float(6.0 / 150.0).squareRoot()   // 0.2
        XCTAssertTrue(w.scalars.allSatisfy { abs($0) <= bound })
        // Variance of U(-a, a) is a²/3 = 0.01333.
        let v = w.scalars.reduce(0) { $0 + $1 * $1 } / Float(w.count)
        XCTAssertEqual(v, bound * bound / 3, accuracy: 0.001)

        let n = Init.normal([4000], std: 0.5, rng: &rng)
        let mean = n.scalars.reduce(0, +) / 4000
        let sd = (n.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4000).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(sd, 0.5, accuracy: 0.02)
        XCTAssertTrue(n.requiresGrad)

        XCTAssertEqual(Init.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Init.ones([3]).scalars, [1, 1, 1])
        XCTAssertTrue(Init.zeros([1]).requiresGrad && Init.ones([1]).requiresGrad)

        var a = RNG(seed: 7), b = RNG(seed: 7)
        XCTAssertEqual(Init.normal([8], std: 1, rng: &a).scalars, Init.normal([8], std: 1, rng: &b).scalars)
    }
}
