import Foundation

/// "Nice" tick values (1, 2, 5 × 10^k steps) whose first tick is at or below `lo` and whose
/// last is at or above `hi`, so an axis from the first tick to the last contains both.
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    guard lo.isFinite, hi.isFinite else { return [] }
    var lo = min(lo, hi), hi = max(lo, hi)
    if hi - lo < 1e-12 { lo -= 0.5 * max(abs(lo), 1e-3); hi += 0.5 * max(abs(hi), 1e-3) }
    let raw = (hi - lo) / Double(max(count, 1))
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2.0, 5.0, 10.0].map { $0 * mag }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * mag
    let first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9)
    return stride(from: first, through: last, by: 1).map { $0 * step }
}

func tickLabel(_ v: Double) -> String {
    if abs(v) < 1e-12 { return "0" }
    let a = abs(v)
    if a >= 1e5 || a < 1e-3 { return String(format: "%.1e", v) }
    if a >= 100 { return String(format: "%.0f", v) }
    var s = String(format: "%.3f", v)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

/// One named series of points, optionally with vertical error bars (`err`: half-length).
public struct PlotSeries {
    public var label: String
    public var points: [(x: Double, y: Double, err: Double)]
    public var connect: Bool
    /// Colour, marker and dash: by default the method's fixed style (`MethodStyle`).
    public var style: SeriesStyle
    /// A short label drawn beside each point (same order as `points`; empty = none). A label
    /// that would overlap one already drawn moves to another side of its marker, or is left out.
    public var pointLabels: [String] = []
    /// Marker size of each point relative to the usual size (same order as `points`; empty = all 1).
    public var pointScales: [Double] = []

    public init(label: String, points: [(x: Double, y: Double, err: Double)], connect: Bool, style: SeriesStyle? = nil) {
        self.label = label
        self.points = points
        self.connect = connect
        self.style = style ?? MethodStyle.style(for: label)
    }
}

/// Draws a marker (with a white halo that keeps overlapping markers apart).
func markerItems(_ shape: MarkerShape, at c: FPoint, radius r: Double, color: RGB) -> [FigureItem] {
    func one(_ rad: Double, _ col: RGB) -> FigureItem {
        if let o = shape.outline(c, rad) { return .polygon(o, fill: col) }
        return .circle(c, radius: rad, fill: col)
    }
    return [one(r + 1.3, .white), one(r, color)]
}

/// An x–y chart: markers with error bars, optionally joined, a legend, labelled axes, a
/// title and a note line under it (what the markers and bars are, which direction is better).
public struct XYPlot {
    public var title: String
    /// A line under the title, e.g. "Error bars: mean ± SD over 3 seeds. Higher is better."
    public var note: String = ""
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    public var width = 720
    public var height = 480
    /// Ticks at the integers of the data (layers), the axis half a step beyond them.
    public var integerX = false
    /// The y axis includes 0.
    public var yFromZero = false
    /// Spreads the series horizontally by a few points (in series order) so that equal
    /// values stay visible side by side; for scatter plots, points closer than a marker
    /// are spread instead.
    public var dodge = false

    public init(title: String, xLabel: String, yLabel: String, series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// The figure (PNG and SVG render it).
    public func figure() throws -> Figure {
        let font = try Font.dejaVu()
        var f = Figure(width: Double(width), height: Double(height))
        let W = Double(width), H = Double(height)
        let tickSize = 11.0, labelSize = 12.5, titleSize = 15.0, noteSize = 11.0, legendSize = 11.5
        let pts = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = pts.map(\.x), ys = pts.flatMap { [$0.y - max($0.err, 0), $0.y + max($0.err, 0)] }

        // Axis ranges: every value and every error bar inside, a margin around them.
        var xt: [Double], x0: Double, x1: Double
        if integerX {
            let lo = (xs.min() ?? 0).rounded(.down), hi = (xs.max() ?? 1).rounded(.up)
            let step = max(1, ((hi - lo) / 10).rounded(.up))
            xt = stride(from: lo, through: hi, by: step).map { $0 }
            (x0, x1) = (lo - 0.5, hi + 0.5)
        } else {
            let lo = xs.min() ?? 0, hi = xs.max() ?? 1, pad = max(hi - lo, abs(hi) * 0.1, 1e-9) * 0.08
            xt = niceTicks(lo - pad, hi + pad)
            (x0, x1) = (xt.first ?? 0, xt.last ?? 1)
        }
        var ylo = ys.min() ?? 0, yhi = ys.max() ?? 1
        if yFromZero { ylo = min(ylo, 0); yhi = max(yhi, 0) }
        let ypad = max(yhi - ylo, abs(yhi) * 0.1, 1e-9) * 0.06
        let yt = niceTicks(yFromZero && ylo >= 0 ? ylo : ylo - ypad, yhi + ypad)
        let y0 = yt.first ?? 0, y1 = yt.last ?? 1

        // Layout: y tick labels and the y title at the left, the legend at the right.
        let yTickW = yt.map { font.width(of: tickLabel($0), size: tickSize) }.max() ?? 0
        let left = 12 + labelSize + 10 + yTickW + 8
        let legendW = (series.map { font.width(of: $0.label, size: legendSize) }.max() ?? 0) + 46
        let right = W - legendW - 12
        // The note wraps onto as many lines as the width needs.
        var noteLines: [String] = []
        for word in note.split(separator: " ").map(String.init) {
            if let last = noteLines.last, font.width(of: last + " " + word, size: noteSize) <= W - left - 10 {
                noteLines[noteLines.count - 1] = last + " " + word
            } else {
                noteLines.append(word)
            }
        }
        let top = note.isEmpty ? 42.0 : 58.0 + 14 * Double(max(noteLines.count - 1, 0)), bottom = H - 50
        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-12) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - y0) / max(y1 - y0, 1e-12) * (bottom - top) }

        f.add(.text(title, at: FPoint(left, 24), size: titleSize, color: .black, anchor: .start, bold: true, vertical: false))
        for (i, line) in noteLines.enumerated() {
            let size = min(noteSize, noteSize * (W - left - 10) / max(font.width(of: line, size: noteSize), 1))
            f.add(.text(line, at: FPoint(left, 42 + 14 * Double(i)), size: size, color: RGB(70, 70, 70), anchor: .start,
                        bold: false, vertical: false))
        }
        let grid = RGB(228, 228, 228)
        for t in xt {
            f.add(.polyline([FPoint(px(t), top), FPoint(px(t), bottom)], color: grid, width: 0.8, dash: []))
            f.add(.polyline([FPoint(px(t), bottom), FPoint(px(t), bottom + 4)], color: .black, width: 1, dash: []))
            f.add(.text(tickLabel(t), at: FPoint(px(t), bottom + 17), size: tickSize, color: .black, anchor: .middle, bold: false, vertical: false))
        }
        for t in yt {
            f.add(.polyline([FPoint(left, py(t)), FPoint(right, py(t))], color: grid, width: 0.8, dash: []))
            f.add(.polyline([FPoint(left - 4, py(t)), FPoint(left, py(t))], color: .black, width: 1, dash: []))
            f.add(.text(tickLabel(t), at: FPoint(left - 7, py(t) + 4), size: tickSize, color: .black, anchor: .end, bold: false, vertical: false))
        }
        f.add(.polyline([FPoint(left, top), FPoint(left, bottom), FPoint(right, bottom)], color: .black, width: 1, dash: []))
        f.add(.text(xLabel, at: FPoint((left + right) / 2, H - 14), size: labelSize, color: .black, anchor: .middle, bold: false, vertical: false))
        // A long y title shrinks to fit beside the axis.
        let ySize = min(labelSize, labelSize * (bottom - top + 40) / max(font.width(of: yLabel, size: labelSize), 1))
        f.add(.text(yLabel, at: FPoint(12 + labelSize, (top + bottom) / 2), size: ySize, color: .black, anchor: .middle, bold: false, vertical: true))

        // Horizontal offsets (points) so that coinciding points stay visible.
        var offsets = [[Double]](repeating: [], count: series.count)
        for (i, s) in series.enumerated() { offsets[i] = [Double](repeating: 0, count: s.points.count) }
        if dodge {
            let connected = series.filter(\.connect).count
            if connected > 1 {
                let stepX = min(5, (right - left) / Double(max(xt.count, 1)) * 0.3 / Double(connected))
                for (i, s) in series.enumerated() where s.connect {
                    offsets[i] = [Double](repeating: (Double(i) - Double(series.count - 1) / 2) * stepX, count: s.points.count)
                }
            }
            // Scatter points within a marker's width of each other are spread apart.
            var flat: [(s: Int, p: Int, x: Double)] = []
            for (i, s) in series.enumerated() where !s.connect {
                for (j, p) in s.points.enumerated() where p.x.isFinite { flat.append((i, j, px(p.x))) }
            }
            flat.sort { ($0.x, $0.s) < ($1.x, $1.s) }
            var k = 0
            while k < flat.count {
                var e = k
                while e + 1 < flat.count, flat[e + 1].x - flat[e].x < 9 { e += 1 }
                let n = e - k + 1
                if n > 1 { for (r, q) in flat[k...e].enumerated() { offsets[q.s][q.p] = (Double(r) - Double(n - 1) / 2) * 9 } }
                k = e + 1
            }
        }

        // Boxes of the point labels placed so far (x0, y0, x1, y1), so that labels never overlap.
        var labelBoxes: [(Double, Double, Double, Double)] = []
        // Labels also keep clear of every marker.
        if series.contains(where: { !$0.pointLabels.isEmpty }) {
            for (i, s) in series.enumerated() {
                for (j, p) in s.points.enumerated() where p.x.isFinite && p.y.isFinite {
                    let r = 4.2 * (j < s.pointScales.count ? s.pointScales[j] : 1) + 1.3
                    let x = px(p.x) + offsets[i][j], y = py(p.y)
                    labelBoxes.append((x - r, y - r, x + r, y + r))
                }
            }
        }
        for (i, s) in series.enumerated() {
            var items: [FigureItem] = []
            let st = s.style
            let order = s.connect ? s.points.indices.sorted { s.points[$0].x < s.points[$1].x } : Array(s.points.indices)
            if s.connect {
                var run: [FPoint] = []
                for j in order {
                    let p = s.points[j]
                    if p.x.isFinite && p.y.isFinite { run.append(FPoint(px(p.x) + offsets[i][j], py(p.y))) }
                    else if run.count > 1 { items.append(.polyline(run, color: st.color, width: 2, dash: st.dash)); run = [] }
                    else { run = [] }
                }
                if run.count > 1 { items.append(.polyline(run, color: st.color, width: 2, dash: st.dash)) }
            }
            for j in order {
                let p = s.points[j]
                guard p.x.isFinite, p.y.isFinite else { continue }
                let x = px(p.x) + offsets[i][j]
                if p.err > 0 {
                    let a = py(p.y - p.err), b = py(p.y + p.err)
                    items.append(.polyline([FPoint(x, a), FPoint(x, b)], color: st.color, width: 1.3, dash: []))
                    items.append(.polyline([FPoint(x - 4, a), FPoint(x + 4, a)], color: st.color, width: 1.3, dash: []))
                    items.append(.polyline([FPoint(x - 4, b), FPoint(x + 4, b)], color: st.color, width: 1.3, dash: []))
                }
                let r = 4.2 * (j < s.pointScales.count ? s.pointScales[j] : 1)
                items += markerItems(st.marker, at: FPoint(x, py(p.y)), radius: r, color: st.color)
                if j < s.pointLabels.count, !s.pointLabels[j].isEmpty {
                    let text = s.pointLabels[j], size = 10.0
                    let w = font.width(of: text, size: size), h = 9.0, y = py(p.y)
                    // Right above, right below, left above, left below the marker.
                    let spots = [(x + r + 3, y - r - 1), (x + r + 3, y + r + h + 1), (x + r + 4, y + h / 2),
                                 (x - r - 3 - w, y - r - 1), (x - r - 3 - w, y + r + h + 1), (x - r - 4 - w, y + h / 2),
                                 (x - w / 2, y - r - 3), (x - w / 2, y + r + h + 3)]
                    if let spot = spots.first(where: { sp in
                        !labelBoxes.contains { b in sp.0 < b.2 && sp.0 + w > b.0 && sp.1 - h < b.3 && sp.1 > b.1 }
                    }) {
                        labelBoxes.append((spot.0 - 1, spot.1 - h - 1, spot.0 + w + 1, spot.1 + 1))
                        items.append(.text(text, at: FPoint(spot.0, spot.1), size: size, color: st.color,
                                           anchor: .start, bold: true, vertical: false))
                    }
                }
            }
            // Legend entry: a line sample for joined series, the marker, the label.
            let ly = top + 8 + 19 * Double(i), lx = right + 14
            if s.connect { items.append(.polyline([FPoint(lx, ly), FPoint(lx + 24, ly)], color: st.color, width: 2, dash: st.dash)) }
            items += markerItems(st.marker, at: FPoint(lx + 12, ly), radius: 4.2, color: st.color)
            items.append(.text(s.label, at: FPoint(lx + 32, ly + 4), size: legendSize, color: .black, anchor: .start, bold: false, vertical: false))
            f.add(.group(id: "series-\(s.label)", title: s.label, items))
        }
        return f
    }

    /// The chart rasterised at `scale` pixels per point (`width × height` at scale 1).
    public func render(scale: Double = 1) throws -> RGBImage { try figure().raster(scale: scale) }
}

/// A heat map: rows × columns of values in [0, max], with labels and a colour bar.
public struct Heatmap {
    public var title: String
    public var note: String = ""
    public var rowLabels: [String]
    public var columnLabels: [String]
    public var values: [[Double]]
    public var xLabel: String
    public var yLabel: String
    /// The colour bar's label and how its ticks are written.
    public var scaleLabel: String = ""
    public var format: (Double) -> String = tickLabel
    /// A value marked on the colour bar (e.g. the uniform share), with its name.
    public var reference: (value: Double, label: String)?

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double]], xLabel: String, yLabel: String) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    public func figure() throws -> Figure {
        let font = try Font.dejaVu(), bold = try Font.dejaVu(bold: true)
        let tickSize = 11.0, labelSize = 12.5, titleSize = 15.0
        let cell = Double(max(16, min(44, 520 / max(columnLabels.count, 1))))
        let rowW = rowLabels.map { font.width(of: $0, size: tickSize) }.max() ?? 0
        let left = 12 + labelSize + 10 + rowW + 8, top = note.isEmpty ? 44.0 : 60.0
        let gridW = cell * Double(columnLabels.count), gridH = cell * Double(rowLabels.count)
        let vmax = values.flatMap { $0 }.filter(\.isFinite).max() ?? 1
        let barX = left + gridW + 22, barH = max(gridH, 110)
        let barTicks = niceTicks(0, vmax, count: 4).filter { $0 <= vmax * (1 + 1e-9) }
        let barLabelW = (barTicks.map { font.width(of: format($0), size: tickSize) } + [font.width(of: "\(format(vmax)) max", size: tickSize)]
            + [reference.map { font.width(of: "\(format($0.value)) \($0.label)", size: tickSize) } ?? 0]).max() ?? 0
        let titleW = max(bold.width(of: title, size: titleSize), font.width(of: note, size: 11)) + left
        let width = max(barX + 16 + 8 + barLabelW + 22 + labelSize, titleW + 16)
        let height = top + max(gridH, barH) + 58
        var f = Figure(width: width.rounded(.up), height: height.rounded(.up))

        f.add(.text(title, at: FPoint(12, 24), size: titleSize, color: .black, anchor: .start, bold: true, vertical: false))
        if !note.isEmpty { f.add(.text(note, at: FPoint(12, 42), size: 11, color: RGB(70, 70, 70), anchor: .start, bold: false, vertical: false)) }
        for (r, row) in values.enumerated() {
            f.add(.text(rowLabels[r], at: FPoint(left - 7, top + (Double(r) + 0.5) * cell + 4), size: tickSize, color: .black,
                        anchor: .end, bold: false, vertical: false))
            for (j, v) in row.enumerated() {
                f.add(.rect(x: left + Double(j) * cell, y: top + Double(r) * cell, width: cell - 1.5, height: cell - 1.5,
                            fill: RGB.heat(vmax > 0 ? v / vmax : 0)))
            }
        }
        let every = columnLabels.count <= 24 ? 1 : 2
        for (j, l) in columnLabels.enumerated() where j % every == 0 {
            f.add(.text(l, at: FPoint(left + (Double(j) + 0.5) * cell, top + gridH + 15), size: tickSize, color: .black,
                        anchor: .middle, bold: false, vertical: false))
        }
        f.add(.text(xLabel, at: FPoint(left + gridW / 2, top + gridH + 36), size: labelSize, color: .black, anchor: .middle, bold: false, vertical: false))
        f.add(.text(yLabel, at: FPoint(12 + labelSize, top + gridH / 2), size: labelSize, color: .black, anchor: .middle, bold: false, vertical: true))

        // The colour bar, 0 at the bottom, the largest value at the top.
        let steps = 64
        for i in 0..<steps {
            let y = top + barH - barH * Double(i + 1) / Double(steps)
            f.add(.rect(x: barX, y: y, width: 16, height: barH / Double(steps) + 0.4, fill: RGB.heat((Double(i) + 0.5) / Double(steps))))
        }
        func barY(_ v: Double) -> Double { top + barH - barH * (vmax > 0 ? v / vmax : 0) }
        for t in barTicks {
            f.add(.polyline([FPoint(barX + 16, barY(t)), FPoint(barX + 20, barY(t))], color: .black, width: 1, dash: []))
            f.add(.text(format(t), at: FPoint(barX + 23, barY(t) + 4), size: tickSize, color: .black, anchor: .start, bold: false, vertical: false))
        }
        if let ref = reference, ref.value <= vmax {
            f.add(.polyline([FPoint(barX - 3, barY(ref.value)), FPoint(barX + 19, barY(ref.value))], color: RGB(213, 94, 0), width: 1.5, dash: []))
            let clash = barTicks.contains { abs(barY($0) - barY(ref.value)) < 12 }
            if !clash {
                f.add(.text("\(format(ref.value)) \(ref.label)", at: FPoint(barX + 23, barY(ref.value) + 4), size: tickSize,
                            color: RGB(213, 94, 0), anchor: .start, bold: false, vertical: false))
            }
        }
        // The largest value at the top of the bar, unless a tick is already there.
        if vmax > 0, !barTicks.contains(where: { abs(barY($0) - barY(vmax)) < 12 }),
           reference.map({ abs(barY($0.value) - barY(vmax)) >= 12 }) ?? true {
            f.add(.text("\(format(vmax)) max", at: FPoint(barX + 23, barY(vmax) + 4), size: tickSize, color: .black,
                        anchor: .start, bold: false, vertical: false))
        }
        if !scaleLabel.isEmpty {
            f.add(.text(scaleLabel, at: FPoint(barX + 16 + 8 + barLabelW + 10 + labelSize, top + barH / 2), size: labelSize,
                        color: .black, anchor: .middle, bold: false, vertical: true))
        }
        return f
    }

    public func render(scale: Double = 1) throws -> RGBImage { try figure().raster(scale: scale) }
}
