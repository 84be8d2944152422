import Foundation
import Report
import XCTest

final class PlotTests: XCTestCase {
    func testCanvasPrimitives() {
        var c = Canvas(width: 20, height: 10)
        c.line(0, 0, 19, 9, .black)
        XCTAssertEqual(c.image.get(0, 0), .black)
        XCTAssertEqual(c.image.get(19, 9), .black)
        XCTAssertEqual(c.image.get(19, 0), .white)
        c.text("1", 0, 0, RGB(255, 0, 0))
        // The glyph '1' has ink at row 0, column 2 and none at row 0, column 0.
        XCTAssertEqual(c.image.get(2, 0), RGB(255, 0, 0))
        XCTAssertEqual(c.image.get(0, 1), .white)
    }

    func testWritesAValidPNG() throws {
        let plot = XYPlot(title: "Accuracy vs FLOPs", xLabel: "GFLOPs", yLabel: "accuracy",
                          series: [PlotSeries(label: "dense", points: [(1, 0.7, 0.02)], connect: false),
                                   PlotSeries(label: "top2", points: [(1.5, 0.75, 0.01), (2, 0.8, 0)], connect: true)])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-plot-\(UUID().uuidString).png")
        try plot.render().writePNG(to: url)
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10])
        // IHDR: width and height, big-endian, at bytes 16..<24.
        let w = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([w, h], [720, 480])
        let heat = Heatmap(title: "load", rowLabels: ["layer 0", "layer 1"], columnLabels: ["0", "1", "2"],
                           values: [[1, 2, 3], [3, 2, 1]], xLabel: "expert", yLabel: "layer").render()
        XCTAssertGreaterThan(heat.width, 100)
        try heat.writePNG(to: url.deletingPathExtension().appendingPathExtension("heat.png"))
        print(url.path)
    }
}
