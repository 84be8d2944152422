import CFreeType
import Foundation

/// A TrueType font rendered through FreeType: the text of every plot (DejaVu Sans, from
/// Debian's `fonts-dejavu-core`, installed by `make deps`).
///
/// Glyphs are unhinted, so widths scale linearly with the size: the PNG and the SVG of a
/// plot lay text out with the same measurements (`width(of:size:)`, in the units of the
/// size). `MOEBENCH_FONT` (a `.ttf` path) replaces the regular face, `MOEBENCH_FONT_BOLD`
/// the bold one.
public final class Font: @unchecked Sendable {
    /// The family name written into SVG files (the face FreeType renders into PNGs).
    public let family: String
    public let bold: Bool
    public let path: String

    private var library: FT_Library?
    private let face: FT_Face
    private let unitsPerEM: Double
    private let lock = NSLock()
    private var advances: [UInt32: Double] = [:]
    private var glyphs: [GlyphKey: GlyphBitmap] = [:]
    private var currentPixelSize: Int = -1

    // FreeType's load flags (macros in freetype.h).
    private static let loadNoScale: Int32 = 1 << 0
    private static let loadNoHinting: Int32 = 1 << 1
    private static let loadRender: Int32 = 1 << 2
    private static let loadNoAutohint: Int32 = 1 << 15

    struct GlyphKey: Hashable { var scalar: UInt32; var size64: Int }

    /// A glyph's coverage bitmap at one size: `width × rows` bytes, its top-left corner at
    /// (`left`, −`top`) from the pen position on the baseline.
    struct GlyphBitmap {
        var width: Int, rows: Int, left: Int, top: Int
        var coverage: [UInt8]
    }

    /// Where the fonts are looked for, in order, after the environment variable.
    public static let searchDirectories = [
        "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu",
        "/usr/local/share/fonts", "/opt/homebrew/share/fonts", "/Library/Fonts",
    ]

    public init(path: String, family: String, bold: Bool) throws {
        var lib: FT_Library?
        guard FT_Init_FreeType(&lib) == 0, let lib else { throw FontError("FreeType: cannot initialise the library") }
        var f: FT_Face?
        guard FT_New_Face(lib, path, 0, &f) == 0, let f else {
            FT_Done_FreeType(lib)
            throw FontError("\(path): FreeType cannot open this font file")
        }
        library = lib
        face = f
        self.path = path
        self.family = f.pointee.family_name.map { String(cString: $0) } ?? family
        self.bold = bold
        unitsPerEM = Double(max(f.pointee.units_per_EM, 1))
    }

    deinit {
        FT_Done_Face(face)
        if let library { FT_Done_FreeType(library) }
    }

    nonisolated(unsafe) private static var cache: [Bool: Font] = [:]
    private static let cacheLock = NSLock()

    /// DejaVu Sans (`bold`: DejaVu Sans Bold), loaded once. Throws with the fix when the
    /// font is not installed.
    public static func dejaVu(bold: Bool = false) throws -> Font {
        cacheLock.lock(); defer { cacheLock.unlock() }
        if let f = cache[bold] { return f }
        let file = bold ? "DejaVuSans-Bold.ttf" : "DejaVuSans.ttf"
        let variable = bold ? "MOEBENCH_FONT_BOLD" : "MOEBENCH_FONT"
        if let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty {
            guard FileManager.default.fileExists(atPath: env) else { throw FontError("\(variable)=\(env): no such font file") }
            let f = try Font(path: env, family: "DejaVu Sans", bold: bold)
            cache[bold] = f
            return f
        }
        let candidates = searchDirectories.map { "\($0)/\(file)" }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw FontError("plot font \(file) not found (looked in \(searchDirectories.joined(separator: ", "))): "
                            + "install Debian's fonts-dejavu-core (`make deps`), or set \(variable) to a TrueType file")
        }
        let f = try Font(path: path, family: "DejaVu Sans", bold: bold)
        cache[bold] = f
        return f
    }

    /// The advance of `scalar` in ems, from the unscaled outline metrics (a character the
    /// font lacks takes the advance of its missing-glyph box).
    private func advanceEM(_ scalar: UInt32) -> Double {
        if let a = advances[scalar] { return a }
        var a = 0.0
        let index = FT_Get_Char_Index(face, FT_ULong(scalar))
        if FT_Load_Glyph(face, index, Font.loadNoScale) == 0 {
            a = Double(face.pointee.glyph.pointee.metrics.horiAdvance) / unitsPerEM
        }
        advances[scalar] = a
        return a
    }

    /// The width of `s` set at `size` (an em of `size` units), in the same units.
    public func width(of s: String, size: Double) -> Double {
        lock.lock(); defer { lock.unlock() }
        return s.unicodeScalars.reduce(0) { $0 + advanceEM($1.value) } * size
    }

    /// Ascender (above the baseline) and descender (below, positive) at `size`.
    public func verticalMetrics(size: Double) -> (ascent: Double, descent: Double) {
        (Double(face.pointee.ascender) / unitsPerEM * size, -Double(face.pointee.descender) / unitsPerEM * size)
    }

    private func glyph(_ scalar: UInt32, pixelSize64: Int) -> GlyphBitmap? {
        let key = GlyphKey(scalar: scalar, size64: pixelSize64)
        if let g = glyphs[key] { return g }
        if currentPixelSize != pixelSize64 {
            guard FT_Set_Char_Size(face, 0, FT_F26Dot6(pixelSize64), 72, 72) == 0 else { return nil }
            currentPixelSize = pixelSize64
        }
        let index = FT_Get_Char_Index(face, FT_ULong(scalar))
        guard FT_Load_Glyph(face, index, Font.loadRender | Font.loadNoHinting | Font.loadNoAutohint) == 0 else { return nil }
        let slot = face.pointee.glyph.pointee
        let bm = slot.bitmap
        var cov = [UInt8](repeating: 0, count: Int(bm.width) * Int(bm.rows))
        if let buf = bm.buffer {
            for r in 0..<Int(bm.rows) {
                for c in 0..<Int(bm.width) { cov[r * Int(bm.width) + c] = buf[r * Int(bm.pitch) + c] }
            }
        }
        let g = GlyphBitmap(width: Int(bm.width), rows: Int(bm.rows), left: Int(slot.bitmap_left), top: Int(slot.bitmap_top), coverage: cov)
        glyphs[key] = g
        return g
    }

    /// Draws `s` into `image` with its baseline starting at (`x`, `y`) (pixels), `pixelSize`
    /// pixels per em, blending `color` by the glyphs' coverage. `vertical`: rotated 90°
    /// counter-clockwise, reading bottom to top (for y-axis titles).
    public func draw(_ s: String, into image: inout RGBImage, x: Double, y: Double, pixelSize: Double, color: RGB,
                     vertical: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        let size64 = max(1, Int((pixelSize * 64).rounded()))
        var pen = 0.0
        for u in s.unicodeScalars {
            defer { pen += advanceEM(u.value) * pixelSize }
            guard let g = glyph(u.value, pixelSize64: size64), g.width > 0 else { continue }
            let ox = Int((pen).rounded()) + g.left
            for r in 0..<g.rows {
                for c in 0..<g.width {
                    let a = g.coverage[r * g.width + c]
                    guard a > 0 else { continue }
                    let dx = ox + c, dy = r - g.top   // offsets along and across the baseline
                    if vertical {
                        image.blend(Int(x.rounded()) + dy, Int(y.rounded()) - dx, color, alpha: Double(a) / 255)
                    } else {
                        image.blend(Int(x.rounded()) + dx, Int(y.rounded()) + dy, color, alpha: Double(a) / 255)
                    }
                }
            }
        }
    }
}

public struct FontError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
