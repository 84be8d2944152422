import Foundation
import Analysis
import Harness

/// A point in figure coordinates (points: x right, y down).
public struct FPoint: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// One drawing instruction of a figure.
public enum FigureItem {
    case polyline([FPoint], color: RGB, width: Double, dash: [Double])
    case polygon([FPoint], fill: RGB)
    case rect(x: Double, y: Double, width: Double, height: Double, fill: RGB)
    case circle(FPoint, radius: Double, fill: RGB)
    /// Text with its baseline at `at`; `anchor` is the point's place along the text;
    /// `vertical`: rotated to read bottom to top.
    case text(String, at: FPoint, size: Double, color: RGB, anchor: TextAnchor, bold: Bool, vertical: Bool)
    /// Items drawn together; in SVG one `<g>` element with this id and title (a series).
    case group(id: String, title: String, [FigureItem])
}

public enum TextAnchor: String, Sendable { case start, middle, end }

/// A vector figure: a list of drawing instructions, rendered both as a raster image (PNG,
/// FreeType text, anti-aliased) and as SVG, so the two always show the same thing.
public struct Figure {
    public var width: Double
    public var height: Double
    public var items: [FigureItem] = []

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    public mutating func add(_ item: FigureItem) { items.append(item) }

    /// Rasterises the figure at `scale` pixels per point.
    public func raster(scale: Double = 1) throws -> RGBImage {
        let regular = try Font.dejaVu(), bold = try Font.dejaVu(bold: true)
        var c = Canvas(width: Int((width * scale).rounded()), height: Int((height * scale).rounded()))
        func draw(_ item: FigureItem) {
            switch item {
            case let .polyline(pts, color, w, dash):
                c.polyline(pts.map { ($0.x * scale, $0.y * scale) }, width: w * scale, color, dash: dash.map { $0 * scale })
            case let .polygon(pts, fill):
                c.fillPolygon(pts.map { ($0.x * scale, $0.y * scale) }, fill)
            case let .rect(x, y, w, h, fill):
                let (x0, y0, x1, y1) = (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
                c.fillPolygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill)
            case let .circle(p, r, fill):
                c.fillCircle(p.x * scale, p.y * scale, radius: r * scale, fill)
            case let .text(s, at, size, color, anchor, isBold, vertical):
                let font = isBold ? bold : regular
                let w = font.width(of: s, size: size)
                let shift = anchor == .start ? 0 : anchor == .middle ? w / 2 : w
                let (x, y) = vertical ? (at.x, at.y + shift) : (at.x - shift, at.y)
                c.text(s, x: x * scale, y: y * scale, size: size * scale, font: font, color, vertical: vertical)
            case let .group(_, _, inner):
                inner.forEach(draw)
            }
        }
        items.forEach(draw)
        return c.image
    }

    /// The figure as a standalone SVG document.
    public func svg() -> String {
        func n(_ v: Double) -> String {
            let r = (v * 100).rounded() / 100
            return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
        }
        func pts(_ p: [FPoint]) -> String { p.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ") }
        // The family FreeType sets the PNG in (DejaVu Sans unless MOEBENCH_FONT names another).
        let family = xmlEscape((try? Font.dejaVu().family) ?? "DejaVu Sans")
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" font-family="\(family), sans-serif">
        <rect x="0" y="0" width="\(n(width))" height="\(n(height))" fill="#ffffff"/>

        """
        func emit(_ item: FigureItem, _ indent: String) {
            switch item {
            case let .polyline(p, color, w, dash):
                let d = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash.map(n).joined(separator: ","))\""
                out += "\(indent)<polyline points=\"\(pts(p))\" fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(n(w))\" stroke-linecap=\"round\" stroke-linejoin=\"round\"\(d)/>\n"
            case let .polygon(p, fill):
                out += "\(indent)<polygon points=\"\(pts(p))\" fill=\"\(fill.hex)\"/>\n"
            case let .rect(x, y, w, h, fill):
                out += "\(indent)<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill.hex)\"/>\n"
            case let .circle(p, r, fill):
                out += "\(indent)<circle cx=\"\(n(p.x))\" cy=\"\(n(p.y))\" r=\"\(n(r))\" fill=\"\(fill.hex)\"/>\n"
            case let .text(s, at, size, color, anchor, bold, vertical):
                let rot = vertical ? " transform=\"rotate(-90 \(n(at.x)) \(n(at.y)))\"" : ""
                let weight = bold ? " font-weight=\"bold\"" : ""
                out += "\(indent)<text x=\"\(n(at.x))\" y=\"\(n(at.y))\" font-size=\"\(n(size))\" fill=\"\(color.hex)\" text-anchor=\"\(anchor.rawValue)\"\(weight)\(rot)>\(xmlEscape(s))</text>\n"
            case let .group(id, title, inner):
                out += "\(indent)<g id=\"\(xmlEscape(id))\" class=\"series\"><title>\(xmlEscape(title))</title>\n"
                for i in inner { emit(i, indent + "  ") }
                out += "\(indent)</g>\n"
            }
        }
        for i in items { emit(i, "") }
        out += "</svg>\n"
        return out
    }

    /// Writes `<base>.png` (at `scale` pixels per point) and `<base>.svg`; returns both.
    @discardableResult
    public func write(png url: URL, scale: Double = 2) throws -> [URL] {
        try raster(scale: scale).writePNG(to: url)
        let svgURL = url.deletingPathExtension().appendingPathExtension("svg")
        try atomicWrite(Data(svg().utf8), to: svgURL)
        return [url, svgURL]
    }
}

/// Escapes text for XML content and attribute values.
public func xmlEscape(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(ch)
        }
    }
    return out
}
