import Foundation

/// Drawing primitives on an `RGBImage`: lines, rectangles, markers and bitmap text.
public struct Canvas {
    public var image: RGBImage

    public init(width: Int, height: Int) { image = RGBImage(width: width, height: height) }

    public mutating func fillRect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB) {
        for y in max(0, min(y0, y1))...min(image.height - 1, max(y0, y1)) {
            for x in max(0, min(x0, x1))...min(image.width - 1, max(x0, x1)) { image.set(x, y, c) }
        }
    }

    /// A line of the given thickness (Bresenham with a square pen).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let r = thickness / 2
        while true {
            for oy in -r...(thickness - 1 - r) { for ox in -r...(thickness - 1 - r) { image.set(x + ox, y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// A filled disc marker.
    public mutating func disc(_ cx: Int, _ cy: Int, radius: Int, _ c: RGB) {
        for y in -radius...radius { for x in -radius...radius where x * x + y * y <= radius * radius { image.set(cx + x, cy + y, c) } }
    }

    /// Text with its top-left corner at (x, y), `scale` pixels per font pixel.
    public mutating func text(_ s: String, _ x: Int, _ y: Int, _ c: RGB = .black, scale: Int = 1) {
        var cx = x
        for ch in s {
            let g = BitmapFont.glyph(ch)
            for (row, bits) in g.enumerated() {
                for (col, b) in bits.enumerated() where b == "#" {
                    for sy in 0..<scale { for sx in 0..<scale { image.set(cx + col * scale + sx, y + row * scale + sy, c) } }
                }
            }
            cx += (BitmapFont.width + 1) * scale
        }
    }

    /// Text rotated 90° counter-clockwise (for y-axis titles), reading bottom to top,
    /// with its bottom-left corner at (x, y).
    public mutating func verticalText(_ s: String, _ x: Int, _ y: Int, _ c: RGB = .black, scale: Int = 1) {
        var cy = y
        for ch in s {
            let g = BitmapFont.glyph(ch)
            for (row, bits) in g.enumerated() {
                for (col, b) in bits.enumerated() where b == "#" {
                    for sy in 0..<scale { for sx in 0..<scale { image.set(x + row * scale + sx, cy - col * scale - sy, c) } }
                }
            }
            cy -= (BitmapFont.width + 1) * scale
        }
    }

    public static func textWidth(_ s: String, scale: Int = 1) -> Int { s.count * (BitmapFont.width + 1) * scale }
}
