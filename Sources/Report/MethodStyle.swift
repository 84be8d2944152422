import Foundation

/// A marker shape.
public enum MarkerShape: String, CaseIterable, Sendable {
    case circle, square, diamond, triangleUp, triangleDown, pentagon, star, plus, cross, hexagon

    /// The outline of the marker centred at `c` with half-size `r` (points); nil for the
    /// circle, drawn as a circle.
    func outline(_ c: FPoint, _ r: Double) -> [FPoint]? {
        func regular(_ n: Int, _ rot: Double, _ rad: Double) -> [FPoint] {
            (0..<n).map { i in
                let a = rot + 2 * Double.pi * Double(i) / Double(n)
                return FPoint(c.x + rad * cos(a), c.y + rad * sin(a))
            }
        }
        switch self {
        case .circle: return nil
        case .square: return regular(4, Double.pi / 4, r * 1.25)
        case .diamond: return regular(4, 0, r * 1.3)
        case .triangleUp: return regular(3, -Double.pi / 2, r * 1.35).map { FPoint($0.x, $0.y + r * 0.2) }
        case .triangleDown: return regular(3, Double.pi / 2, r * 1.35).map { FPoint($0.x, $0.y - r * 0.2) }
        case .pentagon: return regular(5, -Double.pi / 2, r * 1.2)
        case .hexagon: return regular(6, 0, r * 1.15)
        case .star:
            return (0..<10).map { i in
                let a = -Double.pi / 2 + Double.pi * Double(i) / 5, rad = i % 2 == 0 ? r * 1.45 : r * 0.62
                return FPoint(c.x + rad * cos(a), c.y + rad * sin(a))
            }
        case .plus, .cross:
            let w = r * 0.42, l = r * 1.3
            let arm: [(Double, Double)] = [(-w, -l), (w, -l), (w, -w), (l, -w), (l, w), (w, w), (w, l), (-w, l), (-w, w), (-l, w), (-l, -w), (-w, -w)]
            let a = self == .cross ? Double.pi / 4 : 0
            return arm.map { FPoint(c.x + $0.0 * cos(a) - $0.1 * sin(a), c.y + $0.0 * sin(a) + $0.1 * cos(a)) }
        }
    }
}

/// How one method is drawn in every plot: colour, marker and line dash.
public struct SeriesStyle: Equatable, Sendable {
    public var color: RGB
    public var marker: MarkerShape
    /// Dash pattern of connecting lines (points; empty = solid).
    public var dash: [Double]

    public init(color: RGB, marker: MarkerShape, dash: [Double] = []) {
        self.color = color
        self.marker = marker
        self.dash = dash
    }
}

/// The fixed style of each method: the same colour and marker in every plot, whatever
/// other methods a plot holds. Colours are Okabe–Ito's colour-blind-safe palette (the
/// yellow darkened to read on white) plus greys and a brown; no two registered methods
/// share a colour–marker pair.
public enum MethodStyle {
    public static let table: [String: SeriesStyle] = [
        "dense": SeriesStyle(color: RGB(0, 0, 0), marker: .circle),
        "dense-scratch": SeriesStyle(color: RGB(150, 150, 150), marker: .circle, dash: [2, 3]),
        "dense-2x": SeriesStyle(color: RGB(100, 100, 100), marker: .square, dash: [6, 3]),
        "switch": SeriesStyle(color: RGB(0, 114, 178), marker: .triangleUp),
        "top2": SeriesStyle(color: RGB(230, 159, 0), marker: .square, dash: [7, 4]),
        "topp": SeriesStyle(color: RGB(0, 158, 115), marker: .diamond),
        "molex": SeriesStyle(color: RGB(213, 94, 0), marker: .triangleDown, dash: [3, 3]),
        "dlr": SeriesStyle(color: RGB(204, 121, 167), marker: .pentagon, dash: [9, 3, 2, 3]),
        "soft": SeriesStyle(color: RGB(86, 180, 233), marker: .circle, dash: [5, 2]),
        "noisy_topk": SeriesStyle(color: RGB(160, 140, 0), marker: .plus),
        "hierarchical": SeriesStyle(color: RGB(140, 86, 75), marker: .hexagon, dash: [4, 2, 1, 2]),
        "hard": SeriesStyle(color: RGB(90, 60, 160), marker: .star, dash: [1, 3]),
    ]

    /// Colours for methods outside the table.
    static let fallbackColors: [RGB] = [RGB(0, 90, 90), RGB(120, 0, 60), RGB(70, 70, 140), RGB(110, 110, 0), RGB(160, 60, 60)]

    /// The style of `method`: from the table, else derived from a hash of its name (stable
    /// across runs and plots).
    public static func style(for method: String) -> SeriesStyle {
        if let s = table[method] { return s }
        var h: UInt64 = 0xcbf29ce484222325   // FNV-1a
        for b in method.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let shapes = MarkerShape.allCases
        return SeriesStyle(color: fallbackColors[Int(h % UInt64(fallbackColors.count))],
                           marker: shapes[Int((h / 7) % UInt64(shapes.count))], dash: [4, 4])
    }
}
