import CPNG
import Foundation

/// An 8-bit RGB raster image, written as PNG through libpng.
public struct RGBImage {
    public let width: Int
    public let height: Int
    /// Row-major, 3 bytes per pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.r; pixels[3 * i + 1] = background.g; pixels[3 * i + 2] = background.b
        }
    }

    @inline(__always)
    public mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// Blends `c` over the pixel with opacity `alpha` (0…1): anti-aliased edges.
    @inline(__always)
    public mutating func blend(_ x: Int, _ y: Int, _ c: RGB, alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        if alpha >= 1 { set(x, y, c); return }
        let i = 3 * (y * width + x)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - alpha) + Double(new) * alpha).rounded()) }
        pixels[i] = mix(pixels[i], c.r); pixels[i + 1] = mix(pixels[i + 1], c.g); pixels[i + 2] = mix(pixels[i + 2], c.b)
    }

    public func get(_ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * width + x)
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Writes the image as an 8-bit RGB PNG, atomically (temporary file, then rename).
    public func writePNG(to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard let fp = fopen(tmp.path, "wb") else { throw PNGError("\(tmp.path): cannot open for writing") }
        var closed = false
        defer { if !closed { fclose(fp) } }
        var png: png_structp? = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, nil, nil)
        guard png != nil else { throw PNGError("libpng: cannot create a write struct") }
        var info = png_create_info_struct(png)
        defer { png_destroy_write_struct(&png, &info) }
        guard info != nil else { throw PNGError("libpng: cannot create an info struct") }
        png_init_io(png, fp)
        png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
        png_write_info(png, info)
        pixels.withUnsafeBufferPointer { buf in
            for y in 0..<height {
                png_write_row(png, buf.baseAddress! + y * width * 3)
            }
        }
        png_write_end(png, nil)
        fclose(fp)
        closed = true
        guard rename(tmp.path, url.path) == 0 else { throw PNGError("\(url.path): cannot move the finished file into place") }
    }
}

public struct PNGError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

public struct RGB: Equatable, Sendable {
    public var r, g, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let grey = RGB(200, 200, 200)
    public static let darkGrey = RGB(90, 90, 90)
    /// A colour-blind-safe qualitative palette (Okabe–Ito). Plots colour methods through
    /// `MethodStyle`, which keeps one colour per method across plots.
    public static let palette: [RGB] = [RGB(0, 114, 178), RGB(230, 159, 0), RGB(0, 158, 115), RGB(204, 121, 167),
                                        RGB(86, 180, 233), RGB(213, 94, 0), RGB(240, 228, 66), RGB(0, 0, 0)]

    /// `#rrggbb`, for SVG.
    public var hex: String { String(format: "#%02x%02x%02x", r, g, b) }

    /// Sequential colour map from white (0) to dark blue (1).
    public static func heat(_ t: Double) -> RGB {
        let u = max(0, min(1, t.isFinite ? t : 0))
        return RGB(UInt8(255 - 247 * u), UInt8(255 - 207 * u), UInt8(255 - 148 * u))
    }
}
