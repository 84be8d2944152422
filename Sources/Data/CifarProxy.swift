import Dispatch
import Foundation
import Tensor

/// Writes a synthetic CIFAR-100 in the exact binary format (`cifar-100-binary/` with
/// `train.bin`, `test.bin`, `coarse_label_names.txt`, `fine_label_names.txt`), plus the side
/// file `difficulty.tsv`.
///
/// 20 superclasses, each a family of procedurally drawn shapes or textures; each of its 5
/// classes a variant of the family (orientation, count, size, frequency or colour scheme):
///
/// | # | superclass | the 5 classes |
/// |---|---|---|
/// | 0 | polygons | triangle, square, pentagon, hexagon, octagon (random rotation) |
/// | 1 | stars | 3 to 7 points (random rotation) |
/// | 2 | rings | a disc, 1 to 4 concentric rings |
/// | 3 | pointers | an isosceles triangle pointing at 0, 72, 144, 216, 288 degrees |
/// | 4 | bars | a bar at 0, 36, 72, 108, 144 degrees |
/// | 5 | glyphs | plus, x, T, L, H |
/// | 6 | dice | 1 to 5 dots in the dice layout |
/// | 7 | crescents | opening at 0, 72, 144, 216, 288 degrees |
/// | 8 | outlines | circle, square, triangle, diamond, half-disc outlines |
/// | 9 | pairs | two discs along an axis at 0, 36, 72, 108, 144 degrees |
/// | 10 | stripes | stripes (period 6 px) at 0, 36, 72, 108, 144 degrees |
/// | 11 | gratings | sine gratings of 2, 3, 4, 6, 9 cycles per image, any orientation |
/// | 12 | checkers | checkerboards of 2, 3, 4, 6, 8 px cells |
/// | 13 | blobs | random blobs in 5 colour schemes |
/// | 14 | ripples | concentric waves of period 3, 4, 6, 8, 11 px around a random centre |
/// | 15 | gradients | a brightness ramp towards 0, 72, 144, 216, 288 degrees |
/// | 16 | sunbursts | 3, 4, 6, 8, 12 spokes |
/// | 17 | spirals | 1 to 5 arms |
/// | 18 | crosshatch | line pairs at (0, 90), (45, 135), (0, 60), (0, 30), (90, 120) degrees |
/// | 19 | halves | a two-colour split, the foreground towards 0, 72, 144, 216, 288 degrees |
///
/// The foreground colour is drawn around a hue of the superclass (18 degrees apart, 7
/// degrees further per class), the background is a random dark or light low-saturation
/// colour. Each image gets a difficulty level 1-3 (uniformly), which sets the nuisance:
///
/// | level | shift (px) | rotation jitter | scale | noise std | occluder | hue jitter | contrast |
/// |---|---|---|---|---|---|---|---|
/// | 1 | ±1.5 | ±6° | 0.92-1.06 | 0.03 | none | 6° | full |
/// | 2 | ±3.5 | ±14° | 0.82-1.10 | 0.07 | p = 0.5, 6-10 px | 12° | 85% |
/// | 3 | ±5.5 | ±22° | 0.72-1.14 | 0.13 | always, 9-15 px | 20° | 65% |
///
/// (Noise is Gaussian per pixel and channel on the [0, 1] scale; the occluder a rectangle of
/// a random colour.) Records are shuffled. Everything is drawn from `RNG(seed:)` sub-streams
/// named by split and image index, so the output is identical for a seed on any machine and
/// thread count.
public enum CIFARProxy {
    public static let coarseNames = [
        "polygons", "stars", "rings", "pointers", "bars", "glyphs", "dice", "crescents", "outlines", "pairs",
        "stripes", "gratings", "checkers", "blobs", "ripples", "gradients", "sunbursts", "spirals",
        "crosshatch", "halves",
    ]

    /// Fine label `5 · superclass + variant`.
    public static let fineNames: [String] = {
        let deg5 = ["000", "072", "144", "216", "288"], deg10 = ["000", "036", "072", "108", "144"]
        let variants: [[String]] = [
            ["triangle", "square", "pentagon", "hexagon", "octagon"],
            (3...7).map { "star_\($0)" },
            ["disc", "ring_1", "ring_2", "ring_3", "ring_4"],
            deg5.map { "pointer_\($0)" },
            deg10.map { "bar_\($0)" },
            ["glyph_plus", "glyph_x", "glyph_t", "glyph_l", "glyph_h"],
            (1...5).map { "dice_\($0)" },
            deg5.map { "crescent_\($0)" },
            ["outline_circle", "outline_square", "outline_triangle", "outline_diamond", "outline_halfdisc"],
            deg10.map { "pair_\($0)" },
            deg10.map { "stripes_\($0)" },
            [2, 3, 4, 6, 9].map { "grating_\($0)" },
            [2, 3, 4, 6, 8].map { "checker_\($0)" },
            ["blobs_red_green", "blobs_blue_yellow", "blobs_purple_white", "blobs_orange_black", "blobs_cyan_magenta"],
            [3, 4, 6, 8, 11].map { "ripple_\($0)" },
            deg5.map { "gradient_\($0)" },
            [3, 4, 6, 8, 12].map { "sunburst_\($0)" },
            (1...5).map { "spiral_\($0)" },
            ["hatch_000_090", "hatch_045_135", "hatch_000_060", "hatch_000_030", "hatch_090_120"],
            deg5.map { "half_\($0)" },
        ]
        return variants.flatMap { $0 }
    }()

    /// Images per class (train, test) at each scale: smoke 10 / 2 (1,200 images),
    /// proxy 200 / 200 (40,000 images). The large test split is cheap to evaluate and keeps
    /// the test-sampling noise of a paired difference between two methods small (about
    /// 0.4 points when they disagree on a quarter of the images, 0.75 with 5,000).
    public static func perClass(_ scale: ProxyScale) -> (train: Int, test: Int) {
        switch scale {
        case .smoke: return (10, 2)
        case .proxy: return (200, 200)
        }
    }

    /// Writes `root/cifar-100-binary/` at a standard scale, and notes it in `root/PROXY.md`.
    public static func write(root: URL, seed: UInt64, scale: ProxyScale) throws {
        let n = perClass(scale)
        try write(root: root, seed: seed, trainPerClass: n.train, testPerClass: n.test)
    }

    /// Writes `root/cifar-100-binary/` with the given number of images per class, and notes
    /// it in `root/PROXY.md`. Existing proxy files are replaced; a folder holding a
    /// `train.bin` without `difficulty.tsv` (the published data) is never overwritten.
    public static func write(root: URL, seed: UInt64, trainPerClass: Int, testPerClass: Int) throws {
        precondition(trainPerClass >= 0 && testPerClass >= 0)
        let dir = root.appendingPathComponent(CIFAR100.folder)
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("train.bin").path)
            && !fm.fileExists(atPath: dir.appendingPathComponent("difficulty.tsv").path) {
            throw DataError(file: dir.path, "holds a train.bin that is not proxy data (no difficulty.tsv): not overwriting it")
        }
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: dir.path, "cannot create the folder: \(error.localizedDescription)")
        }
        let base = RNG(seed: seed).split("cifar-100-proxy")
        var difficulty = "split\tindex\tlevel\n"
        for (split, perClass) in [("train", trainPerClass), ("test", testPerClass)] {
            let (bytes, levels) = makeSplit(perClass: perClass, rng: base.split(split))
            try writeProxyFile(Data(bytes), dir.appendingPathComponent("\(split).bin"))
            for (i, level) in levels.enumerated() { difficulty += "\(split)\t\(i)\t\(level)\n" }
        }
        try writeProxyFile(Data((coarseNames.joined(separator: "\n") + "\n").utf8),
                      dir.appendingPathComponent("coarse_label_names.txt"))
        try writeProxyFile(Data((fineNames.joined(separator: "\n") + "\n").utf8),
                      dir.appendingPathComponent("fine_label_names.txt"))
        try writeProxyFile(Data(difficulty.utf8), dir.appendingPathComponent("difficulty.tsv"))
        try ProxyNotes.record(root: root, section: CIFAR100.folder, body: """
            Synthetic CIFAR-100 (binary format), written by moebench's CIFARProxy with seed \(seed): \
            \(trainPerClass) train and \(testPerClass) test images per class. 100 procedurally drawn \
            classes in 20 superclasses (a superclass a family of shapes or textures, a class a variant: \
            orientation, count, size, frequency or colour scheme), 32x32 RGB, with shifts, rotation and \
            scale jitter, noise, occlusion and lowered contrast at difficulty levels 1-3 \
            (cifar-100-binary/difficulty.tsv: split, index, level).
            """)
    }

    /// The records (3074 bytes each, shuffled) and difficulty levels of one split.
    static func makeSplit(perClass: Int, rng: RNG) -> (bytes: [UInt8], levels: [Int]) {
        let n = perClass * 100
        var order = rng.split("order")
        let perm = order.permutation(n)        // record r holds drawn image perm[r]
        var bytes = [UInt8](repeating: 0, count: n * CIFAR100.recordBytes)
        var levels = [Int](repeating: 0, count: n)
        let chunks = max(1, min(64, n / 50))
        bytes.withUnsafeMutableBufferPointer { out in
            levels.withUnsafeMutableBufferPointer { lv in
                let outBase = out.baseAddress!, lvBase = lv.baseAddress!
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    var r = chunk * n / chunks
                    let end = (chunk + 1) * n / chunks
                    while r < end {
                        let image = perm[r]
                        let fine = image / perClass
                        var g = rng.split(UInt64(image))
                        let level = 1 + g.int(3)
                        let rec = outBase + r * CIFAR100.recordBytes
                        rec[0] = UInt8(fine / 5)
                        rec[1] = UInt8(fine)
                        render(fine: fine, level: level, rng: &g, into: rec + 2)
                        lvBase[r] = level
                        r += 1
                    }
                }
            }
        }
        return (bytes, levels)
    }

    /// Renders one image of class `fine` at difficulty `level` as 3072 bytes
    /// (R, G, B planes of 32x32).
    public static func render(fine: Int, level: Int, rng: inout RNG) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: CIFARSplit.pixelsPerImage)
        out.withUnsafeMutableBufferPointer { render(fine: fine, level: level, rng: &rng, into: $0.baseAddress!) }
        return out
    }

    struct Level {
        var shift: Float, rotation: Float, scaleLo: Float, scaleHi: Float, noise: Float
        var occluderP: Float, occluderLo: Int, occluderHi: Int, hueJitter: Float, contrast: Float
    }

    static let levels = [
        Level(shift: 1.5, rotation: 6, scaleLo: 0.92, scaleHi: 1.06, noise: 0.03,
              occluderP: 0, occluderLo: 0, occluderHi: 0, hueJitter: 6, contrast: 1),
        Level(shift: 3.5, rotation: 14, scaleLo: 0.82, scaleHi: 1.10, noise: 0.07,
              occluderP: 0.5, occluderLo: 6, occluderHi: 10, hueJitter: 12, contrast: 0.85),
        Level(shift: 5.5, rotation: 22, scaleLo: 0.72, scaleHi: 1.14, noise: 0.13,
              occluderP: 1, occluderLo: 9, occluderHi: 15, hueJitter: 20, contrast: 0.65),
    ]

    /// Everything drawn for one image before the per-pixel pass.
    struct Spec {
        var family = 0, variant = 0
        /// Centre (image units: the image spans [-1, 1]), rotation (radians), scale.
        var cx: Float = 0, cy: Float = 0, cosT: Float = 1, sinT: Float = 0, scale: Float = 1
        var phase: Float = 0, phase2: Float = 0
        /// The variant's count, frequency, cell size or period (see `foreground`).
        var param: Float = 0
        /// Crosshatch line directions (cos, sin of each).
        var c1: Float = 1, s1: Float = 0, c2: Float = 1, s2: Float = 0
        /// Random plane waves for the blob field: (frequency x, frequency y, phase) x 5.
        var waves = [Float](repeating: 0, count: 15)
    }

    static func render(fine: Int, level: Int, rng g: inout RNG, into out: UnsafeMutablePointer<UInt8>) {
        precondition(fine >= 0 && fine < 100 && (1...3).contains(level))
        let L = levels[level - 1]
        var s = Spec()
        s.family = fine / 5
        s.variant = fine % 5
        let deg = Float.pi / 180
        // Geometry.
        s.cx = g.uniform(-L.shift, L.shift) / 16
        s.cy = g.uniform(-L.shift, L.shift) / 16
        var angle = g.uniform(-L.rotation, L.rotation) * deg
        switch s.family {
        case 0: angle += g.uniform(0, 2 * .pi / Float([3, 4, 5, 6, 8][s.variant]))
        case 1: angle += g.uniform(0, 2 * .pi / Float(s.variant + 3))
        case 3, 7, 15, 19: angle += Float(72 * s.variant) * deg
        case 4, 9, 10: angle += Float(36 * s.variant) * deg
        case 11, 13: angle = g.uniform(0, .pi)
        default: break
        }
        switch s.family {
        case 0: s.param = Float([3, 4, 5, 6, 8][s.variant])
        case 1: s.param = Float(s.variant + 3)
        case 11: s.param = Float([2, 3, 4, 6, 9][s.variant]) / 2          // cycles per image unit
        case 12: s.param = Float([2, 3, 4, 6, 8][s.variant]) / 16         // cell side, image units
        case 14: s.param = Float([3, 4, 6, 8, 11][s.variant]) / 16        // period, image units
        case 16: s.param = Float([3, 4, 6, 8, 12][s.variant])
        case 17: s.param = Float(s.variant + 1)
        case 18:
            let pairs: [(Float, Float)] = [(0, 90), (45, 135), (0, 60), (0, 30), (90, 120)]
            let (a1, a2) = pairs[s.variant]
            s.c1 = cos(a1 * deg); s.s1 = sin(a1 * deg); s.c2 = cos(a2 * deg); s.s2 = sin(a2 * deg)
        default: break
        }
        s.cosT = cos(angle)
        s.sinT = sin(angle)
        s.scale = g.uniform(L.scaleLo, L.scaleHi)
        s.phase = g.uniform(0, 2 * .pi)
        s.phase2 = g.uniform(0, 2 * .pi)
        if s.family == 14 {            // ripples: a random centre anywhere in the middle
            s.cx = g.uniform(-0.6, 0.6); s.cy = g.uniform(-0.6, 0.6)
        }
        if s.family == 13 {
            for k in 0..<5 {
                let a = g.uniform(0, .pi), f = g.uniform(1.2, 2.2) * 2 * .pi
                s.waves[3 * k] = f * cos(a); s.waves[3 * k + 1] = f * sin(a); s.waves[3 * k + 2] = g.uniform(0, 2 * .pi)
            }
        }
        // Colours.
        let dark = g.next() & 1 == 0
        var bg = hsv(g.uniform(0, 360), g.uniform(0, 0.3), dark ? g.uniform(0.08, 0.35) : g.uniform(0.65, 0.92))
        let hue = Float(18 * s.family + 7 * s.variant) + g.normal() * L.hueJitter
        var fg = hsv(hue, g.uniform(0.55, 1), dark ? g.uniform(0.7, 1) : g.uniform(0.25, 0.55))
        if s.family == 13 {
            let schemes: [([Float], [Float])] = [
                ([0.85, 0.1, 0.1], [0.1, 0.7, 0.15]), ([0.1, 0.2, 0.85], [0.95, 0.85, 0.1]),
                ([0.55, 0.1, 0.7], [0.95, 0.95, 0.95]), ([0.95, 0.5, 0.05], [0.05, 0.05, 0.05]),
                ([0.1, 0.85, 0.9], [0.9, 0.1, 0.8]),
            ]
            let (a, b) = schemes[s.variant]
            fg = a.map { min(1, max(0, $0 + g.normal() * L.hueJitter / 200)) }
            bg = b.map { min(1, max(0, $0 + g.normal() * L.hueJitter / 200)) }
        }
        for c in 0..<3 { fg[c] = bg[c] + L.contrast * (fg[c] - bg[c]) }
        // Occluder.
        var occ = (x0: 0, y0: 0, x1: -1, y1: -1)
        var occColour: [Float] = [0, 0, 0]
        if L.occluderP > 0 && g.uniform() < L.occluderP {
            let w = L.occluderLo + g.int(L.occluderHi - L.occluderLo + 1)
            let h = L.occluderLo + g.int(L.occluderHi - L.occluderLo + 1)
            occ.x0 = g.int(32 - w + 1); occ.y0 = g.int(32 - h + 1)
            occ.x1 = occ.x0 + w - 1; occ.y1 = occ.y0 + h - 1
            occColour = [g.uniform(), g.uniform(), g.uniform()]
        }
        // Pixels.
        for y in 0..<32 {
            for x in 0..<32 {
                let t = foreground(s, (Float(x) + 0.5) / 16 - 1, (Float(y) + 0.5) / 16 - 1)
                let occluded = x >= occ.x0 && x <= occ.x1 && y >= occ.y0 && y <= occ.y1
                for c in 0..<3 {
                    var v = occluded ? occColour[c] : bg[c] + t * (fg[c] - bg[c])
                    v += g.normal() * L.noise
                    out[c * 1024 + y * 32 + x] = UInt8((min(1, max(0, v)) * 255).rounded())
                }
            }
        }
    }

    /// HSV (hue in degrees, saturation and value in [0, 1]) to RGB.
    static func hsv(_ h: Float, _ s: Float, _ v: Float) -> [Float] {
        var hh = h.truncatingRemainder(dividingBy: 360)
        if hh < 0 { hh += 360 }
        let c = v * s, hp = hh / 60
        let x = c * (1 - abs(hp.truncatingRemainder(dividingBy: 2) - 1))
        let (r, g, b): (Float, Float, Float)
        switch Int(hp) {
        case 0: (r, g, b) = (c, x, 0)
        case 1: (r, g, b) = (x, c, 0)
        case 2: (r, g, b) = (0, c, x)
        case 3: (r, g, b) = (0, x, c)
        case 4: (r, g, b) = (x, 0, c)
        default: (r, g, b) = (c, 0, x)
        }
        let m = v - c
        return [r + m, g + m, b + m]
    }

    @inline(__always) static func clamp01(_ x: Float) -> Float { min(1, max(0, x)) }

    /// Signed distance to an axis-aligned box of half extents `(bx, by)` centred at the origin.
    @inline(__always) static func box(_ x: Float, _ y: Float, _ bx: Float, _ by: Float) -> Float {
        let dx = abs(x) - bx, dy = abs(y) - by
        let ox = max(dx, 0), oy = max(dy, 0)
        return (ox * ox + oy * oy).squareRoot() + min(max(dx, dy), 0)
    }

    /// Signed distance (approximate outside near vertices) to the triangle with apex (0.75, 0)
    /// and base from (-0.5, -0.5) to (-0.5, 0.5).
    @inline(__always) static func triangle(_ x: Float, _ y: Float) -> Float {
        let k: Float = 1 / 1.346_291_2
        return max(-x - 0.5, max((0.5 * (x - 0.75) + 1.25 * y) * k, (0.5 * (x - 0.75) - 1.25 * y) * k))
    }

    /// Angle folded into one sector of width `2π / n`, in `[-π/n, π/n)`.
    @inline(__always) static func sector(_ phi: Float, _ n: Float) -> Float {
        let w = 2 * Float.pi / n
        let a = phi + w / 2
        return a - w * (a / w).rounded(.down) - w / 2
    }

    /// Foreground fraction in [0, 1] at image point `(px, py)` (the image spans [-1, 1]).
    static func foreground(_ s: Spec, _ px: Float, _ py: Float) -> Float {
        // Local coordinates: translated, rotated by -angle, scaled.
        let dx = px - s.cx, dy = py - s.cy
        let rx = s.cosT * dx + s.sinT * dy
        let ry = -s.sinT * dx + s.cosT * dy
        let qx = rx / s.scale, qy = ry / s.scale
        let rho = (qx * qx + qy * qy).squareRoot()
        let v = s.variant
        var sd: Float = 0           // shape families: signed distance in local units
        switch s.family {
        case 0:
            let a = sector(atan2(qy, qx), s.param)
            sd = rho * cos(a) - 0.7 * cos(Float.pi / s.param)
        case 1:
            let a = abs(sector(atan2(qy, qx), s.param)) / (Float.pi / s.param)   // 0 at a tip, 1 between
            sd = (rho - (0.85 - 0.5 * a)) * 0.6
        case 2:
            if v == 0 { sd = rho - 0.7 } else {
                let pitch = 0.8 / Float(v)
                let i = min(Float(v - 1), max(0, (rho / pitch - 0.5).rounded()))
                sd = abs(rho - pitch * (i + 0.5)) - pitch / 4
            }
        case 3: sd = triangle(qx, qy)
        case 4: sd = box(qx, qy, 0.85, 0.13)
        case 5:
            switch v {
            case 0: sd = min(box(qx, qy, 0.7, 0.14), box(qx, qy, 0.14, 0.7))
            case 1:
                let ux = (qx + qy) * 0.707_106_8, uy = (qy - qx) * 0.707_106_8
                sd = min(box(ux, uy, 0.75, 0.14), box(ux, uy, 0.14, 0.75))
            case 2: sd = min(box(qx, qy + 0.55, 0.7, 0.14), box(qx, qy - 0.1, 0.14, 0.6))
            case 3: sd = min(box(qx + 0.45, qy, 0.14, 0.7), box(qx, qy - 0.56, 0.59, 0.14))
            default: sd = min(min(box(qx + 0.5, qy, 0.14, 0.7), box(qx - 0.5, qy, 0.14, 0.7)), box(qx, qy, 0.5, 0.14))
            }
        case 6:
            func dot(_ x: Float, _ y: Float) -> Float { ((qx - x) * (qx - x) + (qy - y) * (qy - y)).squareRoot() - 0.2 }
            let c = dot(0, 0), a = dot(-0.45, -0.45), b = dot(0.45, 0.45), d = dot(0.45, -0.45), e = dot(-0.45, 0.45)
            switch v {
            case 0: sd = c
            case 1: sd = min(a, b)
            case 2: sd = min(c, min(a, b))
            case 3: sd = min(min(a, b), min(d, e))
            default: sd = min(c, min(min(a, b), min(d, e)))
            }
        case 7:
            let inner = ((qx - 0.35) * (qx - 0.35) + qy * qy).squareRoot() - 0.55
            sd = max(rho - 0.7, -inner)
        case 8:
            switch v {
            case 0: sd = rho - 0.65
            case 1: sd = box(qx, qy, 0.6, 0.6)
            case 2: sd = triangle(-qy * 1.1, qx * 1.1) / 1.1
            case 3: sd = box((qx + qy) * 0.707_106_8, (qy - qx) * 0.707_106_8, 0.5, 0.5)
            default: sd = max(rho - 0.7, qy - 0.2)
            }
            sd = abs(sd) - 0.09
        case 9:
            let a = ((qx - 0.45) * (qx - 0.45) + qy * qy).squareRoot()
            let b = ((qx + 0.45) * (qx + 0.45) + qy * qy).squareRoot()
            sd = min(a, b) - 0.3
        // Textures: return the fraction directly (rx, ry are unscaled rotated coordinates).
        case 10:
            return 0.5 + 0.5 * max(-1, min(1, 3 * sin(2 * .pi * rx / 0.375 + s.phase)))
        case 11:
            return 0.5 + 0.5 * sin(2 * .pi * s.param * rx + s.phase)
        case 12:
            let i = Int((rx / s.param + s.phase).rounded(.down)), j = Int((ry / s.param + s.phase2).rounded(.down))
            return (i + j) & 1 == 0 ? 1 : 0
        case 13:
            var f: Float = 0
            for k in 0..<5 { f += sin(s.waves[3 * k] * px + s.waves[3 * k + 1] * py + s.waves[3 * k + 2]) }
            return clamp01(0.5 + 1.5 * f)
        case 14:
            let r = (dx * dx + dy * dy).squareRoot()
            return 0.5 + 0.5 * sin(2 * .pi * r / s.param + s.phase)
        case 15:
            return clamp01(0.5 + 0.55 * rx)
        case 16:
            return 0.5 + 0.5 * max(-1, min(1, 3 * sin(s.param * atan2(ry, rx) + s.phase)))
        case 17:
            let r = (rx * rx + ry * ry).squareRoot()
            return 0.5 + 0.5 * max(-1, min(1, 2 * sin(s.param * atan2(ry, rx) + 2 * .pi * 2.5 * r + s.phase)))
        case 18:
            // Lines every 7 px, about 2.5 px wide.
            let t1 = (rx * s.c1 + ry * s.s1) / 0.4375 + s.phase
            let t2 = (rx * s.c2 + ry * s.s2) / 0.4375 + s.phase2
            let d1 = abs(t1 - t1.rounded(.down) - 0.5) * 7, d2 = abs(t2 - t2.rounded(.down) - 0.5) * 7
            return max(clamp01(1.25 - d1), clamp01(1.25 - d2))
        default:
            return clamp01(0.5 + rx * 16)
        }
        // Anti-aliased coverage: 16 pixels per local unit, times the scale.
        return clamp01(0.5 - sd * 16 * s.scale)
    }
}

/// Keeps `PROXY.md` at a dataset root: a header saying the data is synthetic, then one
/// section per dataset written (`## <name>`), each replaced when that dataset is rewritten.
enum ProxyNotes {
    static let header = """
        # Synthetic proxy data

        This folder holds synthetic data written by moebench in the exact on-disk formats of the \
        published datasets, so that the suite runs where the real archives cannot be downloaded. \
        It is not the published data: every result built from it says "data: proxy".

        """

    static func record(root: URL, section: String, body: String) throws {
        let url = DatasetLayout.proxyMarkerFile(root)
        var text = (try? String(contentsOf: url, encoding: .utf8)) ?? header
        let heading = "## \(section)\n"
        let block = heading + "\n" + body + "\n\n"
        if let start = text.range(of: heading) {
            let rest = text[start.upperBound...]
            let end = rest.range(of: "\n## ").map { text.index(after: $0.lowerBound) } ?? text.endIndex
            text.replaceSubrange(start.lowerBound..<end, with: block)
        } else {
            if !text.hasSuffix("\n\n") { text += text.hasSuffix("\n") ? "\n" : "\n\n" }
            text += block
        }
        try writeProxyFile(Data(text.utf8), url)
    }
}

/// Writes `data` to `url` atomically; a failure is a `DataError` naming the file.
func writeProxyFile(_ data: Data, _ url: URL) throws {
    do { try data.write(to: url, options: .atomic) } catch {
        throw DataError(file: url.path, "cannot write: \(error.localizedDescription)")
    }
}
