import Foundation

/// Anti-aliased drawing on an `RGBImage`, in pixel coordinates (x right, y down; pixel
/// (i, j) covers [i, i+1) × [j, j+1)): strokes with round caps, filled polygons and discs
/// by coverage, and FreeType text.
public struct Canvas {
    public var image: RGBImage

    public init(width: Int, height: Int) { image = RGBImage(width: width, height: height) }

    /// Fills the pixels of the inclusive integer rectangle (no anti-aliasing needed).
    public mutating func fillRect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB) {
        let ya = max(0, min(y0, y1)), yb = min(image.height - 1, max(y0, y1))
        let xa = max(0, min(x0, x1)), xb = min(image.width - 1, max(x0, x1))
        guard ya <= yb, xa <= xb else { return }
        for y in ya...yb { for x in xa...xb { image.set(x, y, c) } }
    }

    /// A one-pixel line between pixel centres (`thickness` pixels wide), anti-aliased.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB, thickness: Int = 1) {
        stroke(Double(x0) + 0.5, Double(y0) + 0.5, Double(x1) + 0.5, Double(y1) + 0.5, width: Double(thickness), c)
    }

    /// A straight stroke from (x0, y0) to (x1, y1) of `width` pixels with round caps; each
    /// pixel is blended by its distance to the segment (one pixel of soft edge).
    public mutating func stroke(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double, _ c: RGB, alpha: Double = 1) {
        let hw = max(width, 0.5) / 2
        let dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy
        let pad = hw + 1
        let xa = max(0, Int(floor(min(x0, x1) - pad))), xb = min(image.width - 1, Int(ceil(max(x0, x1) + pad)))
        let ya = max(0, Int(floor(min(y0, y1) - pad))), yb = min(image.height - 1, Int(ceil(max(y0, y1) + pad)))
        guard xa <= xb, ya <= yb else { return }
        let horizontalish = abs(dx) >= abs(dy)
        // Walk along the major axis and visit only the band around the segment.
        let slope = horizontalish ? (dx == 0 ? 0 : dy / dx) : (dy == 0 ? 0 : dx / dy)
        let band = Int(ceil(pad * (1 + slope * slope).squareRoot())) + 1
        func cover(_ px: Int, _ py: Int) {
            let cx = Double(px) + 0.5, cy = Double(py) + 0.5
            var t = len2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / len2 : 0
            t = max(0, min(1, t))
            let ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy)
            let d = (ex * ex + ey * ey).squareRoot()
            let a = max(0, min(1, hw + 0.5 - d))
            if a > 0 { image.blend(px, py, c, alpha: a * alpha) }
        }
        if horizontalish {
            for px in xa...xb {
                let cy = y0 + (Double(px) + 0.5 - x0) * slope
                let lo = max(ya, Int(floor(cy)) - band), hi = min(yb, Int(floor(cy)) + band)
                if lo <= hi { for py in lo...hi { cover(px, py) } }
            }
        } else {
            for py in ya...yb {
                let cx = x0 + (Double(py) + 0.5 - y0) * slope
                let lo = max(xa, Int(floor(cx)) - band), hi = min(xb, Int(floor(cx)) + band)
                if lo <= hi { for px in lo...hi { cover(px, py) } }
            }
        }
    }

    /// A polyline of round-capped strokes; `dash` (on, off, on, off… lengths in pixels)
    /// breaks it into dashes measured along its length.
    public mutating func polyline(_ pts: [(Double, Double)], width: Double, _ c: RGB, dash: [Double] = []) {
        guard pts.count >= 2 else { return }
        if dash.isEmpty || dash.reduce(0, +) <= 0 {
            for (a, b) in zip(pts, pts.dropFirst()) { stroke(a.0, a.1, b.0, b.1, width: width, c) }
            return
        }
        var k = 0, left = dash[0], on = true
        for (a, b) in zip(pts, pts.dropFirst()) {
            let len = hypot(b.0 - a.0, b.1 - a.1)
            var pos = 0.0
            while pos < len {
                let step = min(left, len - pos)
                if on {
                    let t0 = pos / len, t1 = (pos + step) / len
                    stroke(a.0 + (b.0 - a.0) * t0, a.1 + (b.1 - a.1) * t0, a.0 + (b.0 - a.0) * t1, a.1 + (b.1 - a.1) * t1,
                           width: width, c)
                }
                pos += step
                left -= step
                if left <= 1e-9 { k = (k + 1) % dash.count; left = dash[k]; on.toggle() }
            }
        }
    }

    /// Fills a polygon (non-zero winding), each pixel blended by the share of its 4 × 4
    /// sample points inside.
    public mutating func fillPolygon(_ pts: [(Double, Double)], _ c: RGB) {
        guard pts.count >= 3 else { return }
        let xa = max(0, Int(floor(pts.map(\.0).min()!))), xb = min(image.width - 1, Int(ceil(pts.map(\.0).max()!)))
        let ya = max(0, Int(floor(pts.map(\.1).min()!))), yb = min(image.height - 1, Int(ceil(pts.map(\.1).max()!)))
        guard xa <= xb, ya <= yb else { return }
        let edges = Array(zip(pts, pts.dropFirst() + [pts[0]]))
        func inside(_ x: Double, _ y: Double) -> Bool {
            var winding = 0
            for (a, b) in edges {
                if a.1 <= y {
                    if b.1 > y, (b.0 - a.0) * (y - a.1) - (x - a.0) * (b.1 - a.1) > 0 { winding += 1 }
                } else if b.1 <= y, (b.0 - a.0) * (y - a.1) - (x - a.0) * (b.1 - a.1) < 0 { winding -= 1 }
            }
            return winding != 0
        }
        for py in ya...yb {
            for px in xa...xb {
                var n = 0
                for j in 0..<4 { for i in 0..<4 where inside(Double(px) + (Double(i) + 0.5) / 4, Double(py) + (Double(j) + 0.5) / 4) { n += 1 } }
                if n > 0 { image.blend(px, py, c, alpha: Double(n) / 16) }
            }
        }
    }

    /// A filled disc centred at (cx, cy) (pixel coordinates), anti-aliased.
    public mutating func fillCircle(_ cx: Double, _ cy: Double, radius: Double, _ c: RGB) {
        let xa = max(0, Int(floor(cx - radius - 1))), xb = min(image.width - 1, Int(ceil(cx + radius + 1)))
        let ya = max(0, Int(floor(cy - radius - 1))), yb = min(image.height - 1, Int(ceil(cy + radius + 1)))
        guard xa <= xb, ya <= yb else { return }
        for py in ya...yb {
            for px in xa...xb {
                let d = hypot(Double(px) + 0.5 - cx, Double(py) + 0.5 - cy)
                let a = max(0, min(1, radius + 0.5 - d))
                if a > 0 { image.blend(px, py, c, alpha: a) }
            }
        }
    }

    /// A filled disc marker centred on the pixel (cx, cy).
    public mutating func disc(_ cx: Int, _ cy: Int, radius: Int, _ c: RGB) {
        fillCircle(Double(cx) + 0.5, Double(cy) + 0.5, radius: Double(radius), c)
    }

    /// Text in `font` with its baseline starting at (x, y), `size` pixels per em;
    /// `vertical`: reading bottom to top.
    public mutating func text(_ s: String, x: Double, y: Double, size: Double, font: Font, _ c: RGB = .black, vertical: Bool = false) {
        font.draw(s, into: &image, x: x, y: y, pixelSize: size, color: c, vertical: vertical)
    }
}
