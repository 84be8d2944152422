import Foundation

/// "Nice" tick values covering [lo, hi] (1, 2, 5 × 10^k steps).
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    guard lo.isFinite, hi.isFinite else { return [] }
    var lo = lo, hi = hi
    if hi - lo < 1e-12 { lo -= 0.5 * max(abs(lo), 1e-3); hi += 0.5 * max(abs(hi), 1e-3) }
    let raw = (hi - lo) / Double(max(count, 1))
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2.0, 5.0, 10.0].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    var t = floor(lo / step) * step
    var out: [Double] = []
    while t <= hi + step * 0.5 { out.append(t); t += step }
    return out
}

func tickLabel(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if a >= 1e4 || a < 1e-3 { return String(format: "%.1e", v) }
    if a >= 100 { return String(format: "%.0f", v) }
    if a >= 10 { return String(format: "%.1f", v) }
    return String(format: "%.3g", v)
}

/// One named series of points, optionally with vertical error bars.
public struct PlotSeries {
    public var label: String
    public var points: [(x: Double, y: Double, err: Double)]
    public var connect: Bool

    public init(label: String, points: [(x: Double, y: Double, err: Double)], connect: Bool) {
        self.label = label
        self.points = points
        self.connect = connect
    }
}

/// An x–y chart: markers (with error bars), optionally joined, a legend, labelled axes.
public struct XYPlot {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    public var width = 720
    public var height = 480

    public init(title: String, xLabel: String, yLabel: String, series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    public func render() -> RGBImage {
        var c = Canvas(width: width, height: height)
        let left = 80, right = width - 170, top = 40, bottom = height - 60
        let pts = series.flatMap(\.points)
        let xs = pts.map(\.x).filter(\.isFinite), ys = pts.flatMap { [$0.y - $0.err, $0.y + $0.err] }.filter(\.isFinite)
        func padded(_ v: [Double]) -> (Double, Double) {
            let lo = v.min() ?? 0, hi = v.max() ?? 1, pad = max(hi - lo, abs(hi) * 0.1, 1e-9) * 0.08
            return (lo - pad, hi + pad)
        }
        let (xlo, xhi) = padded(xs), (ylo, yhi) = padded(ys)
        let xt = niceTicks(xlo, xhi), yt = niceTicks(ylo, yhi)
        let x0 = xt.first ?? 0, x1 = xt.last ?? 1, y0 = yt.first ?? 0, y1 = yt.last ?? 1
        func px(_ x: Double) -> Int { left + Int((x - x0) / max(x1 - x0, 1e-12) * Double(right - left)) }
        func py(_ y: Double) -> Int { bottom - Int((y - y0) / max(y1 - y0, 1e-12) * Double(bottom - top)) }

        c.text(title, left, 12, .black, scale: 2)
        for t in xt {
            c.line(px(t), top, px(t), bottom, RGB(235, 235, 235))
            c.line(px(t), bottom, px(t), bottom + 5, .black)
            let s = tickLabel(t)
            c.text(s, px(t) - Canvas.textWidth(s) / 2, bottom + 9)
        }
        for t in yt {
            c.line(left, py(t), right, py(t), RGB(235, 235, 235))
            c.line(left - 5, py(t), left, py(t), .black)
            let s = tickLabel(t)
            c.text(s, left - 8 - Canvas.textWidth(s), py(t) - 3)
        }
        c.line(left, top, left, bottom, .black)
        c.line(left, bottom, right, bottom, .black)
        c.text(xLabel, (left + right) / 2 - Canvas.textWidth(xLabel, scale: 2) / 2, height - 28, .black, scale: 2)
        c.verticalText(yLabel, 8, (top + bottom) / 2 + Canvas.textWidth(yLabel, scale: 2) / 2, .black, scale: 2)

        for (i, s) in series.enumerated() {
            let col = RGB.palette[i % RGB.palette.count]
            let sorted = s.connect ? s.points.sorted { $0.x < $1.x } : s.points
            if s.connect {
                for (a, b) in zip(sorted, sorted.dropFirst()) where a.y.isFinite && b.y.isFinite {
                    c.line(px(a.x), py(a.y), px(b.x), py(b.y), col, thickness: 2)
                }
            }
            for p in sorted where p.x.isFinite && p.y.isFinite {
                if p.err > 0 {
                    c.line(px(p.x), py(p.y - p.err), px(p.x), py(p.y + p.err), col)
                    c.line(px(p.x) - 4, py(p.y - p.err), px(p.x) + 4, py(p.y - p.err), col)
                    c.line(px(p.x) - 4, py(p.y + p.err), px(p.x) + 4, py(p.y + p.err), col)
                }
                c.disc(px(p.x), py(p.y), radius: 4, col)
            }
            let ly = top + 10 + 18 * i
            c.fillRect(right + 15, ly, right + 27, ly + 8, col)
            c.text(s.label, right + 33, ly + 1)
        }
        return c.image
    }
}

/// A heat map: rows × columns of values in [0, max], with labels and a scale bar.
public struct Heatmap {
    public var title: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    public var values: [[Double]]
    public var xLabel: String
    public var yLabel: String

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double]], xLabel: String, yLabel: String) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    public func render() -> RGBImage {
        let cell = max(12, min(40, 480 / max(columnLabels.count, 1)))
        let labelW = (rowLabels.map { Canvas.textWidth($0) }.max() ?? 0) + 20
        let left = 30 + labelW, top = 44
        let width = left + cell * columnLabels.count + 120, height = top + cell * rowLabels.count + 60
        var c = Canvas(width: width, height: height)
        c.text(title, 10, 12, .black, scale: 2)
        let vmax = values.flatMap { $0 }.filter(\.isFinite).max() ?? 1
        for (r, row) in values.enumerated() {
            c.text(rowLabels[r], left - 8 - Canvas.textWidth(rowLabels[r]), top + r * cell + cell / 2 - 3)
            for (j, v) in row.enumerated() {
                c.fillRect(left + j * cell, top + r * cell, left + (j + 1) * cell - 2, top + (r + 1) * cell - 2,
                           RGB.heat(vmax > 0 ? v / vmax : 0))
            }
        }
        for (j, l) in columnLabels.enumerated() where columnLabels.count <= 24 || j % 2 == 0 {
            c.text(l, left + j * cell + cell / 2 - Canvas.textWidth(l) / 2, top + rowLabels.count * cell + 6)
        }
        c.text(xLabel, left, top + rowLabels.count * cell + 24)
        c.verticalText(yLabel, 6, top + rowLabels.count * cell)
        let bx = left + cell * columnLabels.count + 24
        for i in 0..<100 { c.fillRect(bx, top + 99 - i, bx + 14, top + 99 - i, RGB.heat(Double(i) / 99)) }
        c.text(tickLabel(vmax), bx + 20, top - 3)
        c.text("0", bx + 20, top + 96)
        return c.image
    }
}
