import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Report
import Routing
import XCTest

final class PlotTests: XCTestCase {
    func testCanvasPrimitives() {
        var c = Canvas(width: 20, height: 10)
        c.line(0, 0, 19, 9, .black)
        XCTAssertEqual(c.image.get(0, 0), .black)
        XCTAssertEqual(c.image.get(19, 9), .black)
        XCTAssertEqual(c.image.get(19, 0), .white)
        // Anti-aliased: a diagonal leaves partly covered (grey) pixels beside the line.
        let greys = (0..<20).flatMap { x in (0..<10).map { c.image.get(x, $0) } }.filter { $0 != .black && $0 != .white }
        XCTAssertFalse(greys.isEmpty)
        var d = Canvas(width: 20, height: 20)
        d.fillCircle(10, 10, radius: 5, RGB(255, 0, 0))
        XCTAssertEqual(d.image.get(10, 10), RGB(255, 0, 0))
        XCTAssertEqual(d.image.get(1, 1), .white)
    }

    /// FreeType draws "H" where its strokes are: ink on the left stem and the crossbar,
    /// none between the stems above the crossbar, none below the baseline.
    func testFontRendersAGlyphWithInkWhereExpected() throws {
        let font = try Font.dejaVu()
        var c = Canvas(width: 80, height: 70)
        let size = 40.0, x = 10.0, baseline = 50.0
        c.text("H", x: x, y: baseline, size: size, font: font)
        func dark(_ px: Int, _ py: Int) -> Bool { c.image.get(px, py).r < 100 }
        let w = font.width(of: "H", size: size)
        XCTAssertEqual(w, font.width(of: "H", size: 1) * size, accuracy: 1e-9)
        XCTAssertEqual(font.width(of: "HH", size: size), 2 * w, accuracy: 1e-9)
        // DejaVu Sans "H": cap height 0.729 em, stems 0.1 em in from the sides, bar at mid-height.
        let cap = 0.729 * size, stemX = Int(x + 0.15 * size), midX = Int(x + w / 2)
        XCTAssertTrue(dark(stemX, Int(baseline - cap / 4)), "left stem")
        XCTAssertTrue(dark(stemX, Int(baseline - 3 * cap / 4)), "left stem, upper half")
        XCTAssertTrue(dark(midX, Int(baseline - cap / 2)), "crossbar")
        XCTAssertFalse(dark(midX, Int(baseline - 0.85 * cap)), "gap between the stems")
        XCTAssertFalse(dark(stemX, Int(baseline + 5)), "below the baseline")
        XCTAssertFalse(dark(Int(x + w + 4), Int(baseline - cap / 2)), "right of the glyph")
        // Vertical text reads bottom to top: the same glyph rotated, its stem now horizontal.
        var v = Canvas(width: 70, height: 80)
        v.text("H", x: 50, y: 70, size: size, font: font, vertical: true)
        XCTAssertTrue(v.image.get(Int(50 - cap / 4), Int(70 - 0.15 * size)).r < 100, "rotated stem")
        XCTAssertEqual(v.image.get(60, 40), .white, "below the rotated baseline")
    }

    func testWritesAValidPNGAndSVG() throws {
        let plot = XYPlot(title: "Accuracy vs FLOPs", xLabel: "GFLOPs", yLabel: "accuracy",
                          series: [PlotSeries(label: "dense", points: [(1, 0.7, 0.02)], connect: false),
                                   PlotSeries(label: "top2", points: [(1.5, 0.75, 0.01), (2, 0.8, 0)], connect: true)])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-plot-\(UUID().uuidString).png")
        defer { for e in ["png", "svg"] { try? FileManager.default.removeItem(at: url.deletingPathExtension().appendingPathExtension(e)) } }
        let files = try plot.figure().write(png: url, scale: 2)
        XCTAssertEqual(files.map(\.pathExtension), ["png", "svg"])
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10])
        // IHDR: width and height, big-endian, at bytes 16..<24: twice the 720 × 480 points.
        let w = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([w, h], [1440, 960])
        XCTAssertEqual(try plot.render().width, 720)

        let svg = try String(contentsOf: files[1], encoding: .utf8)
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        for s in ["dense", "top2"] { XCTAssertTrue(svg.contains("<g id=\"series-\(s)\" class=\"series\"><title>\(s)</title>"), s) }
        XCTAssertTrue(svg.contains(">Accuracy vs FLOPs</text>"))
        // Each series in its method's colour.
        XCTAssertTrue(svg.contains(MethodStyle.style(for: "top2").color.hex))

        var heat = Heatmap(title: "load <&>", rowLabels: ["layer 0", "layer 1"], columnLabels: ["0", "1", "2"],
                           values: [[1, 2, 3], [3, 2, 1]], xLabel: "expert", yLabel: "layer")
        heat.reference = (2, "uniform")
        let hs = try heat.figure().svg()
        XCTAssertTrue(XMLParser(data: Data(hs.utf8)).parse())
        XCTAssertTrue(hs.contains("load &lt;&amp;&gt;"))
        XCTAssertGreaterThan(try heat.render().width, 100)
    }

    func testAxesContainEveryValueAndLayersStartAtZero() throws {
        // The top-p line above 3 once went over the title: the last tick now covers it.
        for (lo, hi) in [(0.0, 3.16), (1.0, 3.0001), (-20.0, -5.2), (0.041, 0.121)] {
            let t = niceTicks(lo, hi)
            XCTAssertLessThanOrEqual(t.first!, lo); XCTAssertGreaterThanOrEqual(t.last!, hi)
        }
        var p = XYPlot(title: "t", xLabel: "layer", yLabel: "experts",
                       series: [PlotSeries(label: "topp", points: [(0, 2.8, 0), (1, 3.0, 0), (2, 3.16, 0), (3, 3.14, 0)], connect: true)])
        p.integerX = true
        p.yFromZero = true
        let labels = try p.figure().items.compactMap { item -> String? in
            if case let .text(s, _, _, _, _, _, _) = item { return s }
            return nil
        }
        XCTAssertTrue(labels.contains("0") && labels.contains("3"))
        XCTAssertFalse(labels.contains("-1"))
        XCTAssertTrue(labels.contains("4"), "y axis reaches above 3.16: \(labels)")
    }

    func testEveryMethodKeepsOneDistinctStyle() {
        let names = MethodRegistry.names + ["dense-2x", "dense-scratch"]
        for n in names {
            XCTAssertNotNil(MethodStyle.table[n], "\(n) has no fixed style")
            XCTAssertEqual(MethodStyle.style(for: n), MethodStyle.style(for: n))
        }
        let pairs = names.map { "\(MethodStyle.style(for: $0).color.hex)/\(MethodStyle.style(for: $0).marker)" }
        XCTAssertEqual(Set(pairs).count, names.count, "two methods share a colour and a marker")
        let colors = names.map { MethodStyle.style(for: $0).color.hex }
        XCTAssertEqual(Set(colors).count, names.count, "two methods share a colour")
        // A series takes its method's style whatever its position in the plot.
        XCTAssertEqual(PlotSeries(label: "switch", points: [], connect: false).style, MethodStyle.table["switch"])
        // Unknown methods get a style derived from the name alone.
        XCTAssertEqual(MethodStyle.style(for: "my_router"), MethodStyle.style(for: "my_router"))
    }
}
