import CFLAC
import Foundation

/// The PCM layout of a FLAC stream: sample rate in Hz, channel count, bits per sample.
public struct FlacFormat: Equatable, Sendable, CustomStringConvertible {
    public var sampleRate: Int
    public var channels: Int
    public var bitsPerSample: Int

    public init(sampleRate: Int, channels: Int, bitsPerSample: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.bitsPerSample = bitsPerSample
    }

    /// LibriSpeech audio: 16 kHz, mono, 16-bit.
    public static let speech = FlacFormat(sampleRate: 16_000, channels: 1, bitsPerSample: 16)

    public var description: String {
        "\(sampleRate) Hz, \(bitsPerSample)-bit, \(channels == 1 ? "mono" : "\(channels) channels")"
    }
}

/// FLAC reading and writing through libFLAC (stream decoder and stream encoder).
///
/// Decoding checks everything libFLAC can check: frame CRCs, sync, the STREAMINFO total
/// sample count and the MD5 signature of the decoded audio. Any problem throws a
/// `DataError` naming the file.
public enum Flac {
    /// Reads only the STREAMINFO block of `url`.
    public static func format(of url: URL) throws -> FlacFormat {
        let ctx = FlacDecodeContext(path: url.path, expect: nil, headerOnly: true)
        try ctx.run()
        guard let info = ctx.info else {
            throw DataError(file: url.path, "not a FLAC stream (no \"fLaC\" marker or STREAMINFO block)")
        }
        return info.format
    }

    /// The audio length in seconds from the STREAMINFO block (total samples ÷ sample rate),
    /// without decoding.
    public static func duration(of url: URL) throws -> Double {
        let ctx = FlacDecodeContext(path: url.path, expect: nil, headerOnly: true)
        try ctx.run()
        guard let info = ctx.info, info.format.sampleRate > 0 else {
            throw DataError(file: url.path, "not a FLAC stream (no \"fLaC\" marker or STREAMINFO block)")
        }
        return Double(info.totalSamples) / Double(info.format.sampleRate)
    }

    /// Decodes a 16 kHz, 16-bit, mono FLAC file (the LibriSpeech format) into samples.
    ///
    /// Any other rate, depth or channel count throws an error that names the file and what
    /// it found; a corrupt stream (lost sync, bad frame header, CRC or MD5 mismatch, fewer
    /// samples than STREAMINFO announces) throws an error that names the file.
    public static func decode(_ url: URL) throws -> [Int16] {
        let ctx = FlacDecodeContext(path: url.path, expect: .speech, headerOnly: false)
        try ctx.run()
        return ctx.samples16
    }

    /// Decodes a FLAC file of any layout: interleaved samples (`frames · channels` values,
    /// each in the signed range of `bitsPerSample` bits) and the format.
    public static func decodeAny(_ url: URL) throws -> (samples: [Int32], format: FlacFormat) {
        let ctx = FlacDecodeContext(path: url.path, expect: nil, headerOnly: false)
        try ctx.run()
        return (ctx.samples32, ctx.info!.format)
    }

    /// Writes 16-bit mono samples at `sampleRate` Hz as a FLAC file (compression level 5).
    public static func write(_ samples: [Int16], sampleRate: Int = 16_000, to url: URL) throws {
        try encode(samples.map { Int32($0) },
                   format: FlacFormat(sampleRate: sampleRate, channels: 1, bitsPerSample: 16), to: url)
    }

    /// Writes interleaved samples (`frames · channels` values, each within the signed range
    /// of `format.bitsPerSample` bits) as a FLAC file, with the MD5 signature of the audio
    /// in STREAMINFO.
    public static func encode(_ interleaved: [Int32], format: FlacFormat, to url: URL,
                              compressionLevel: Int = 5) throws {
        precondition(format.channels >= 1 && format.channels <= 8, "FLAC holds 1-8 channels")
        precondition(format.bitsPerSample >= 4 && format.bitsPerSample <= 32, "FLAC holds 4-32 bits per sample")
        precondition(interleaved.count % format.channels == 0,
                     "sample count \(interleaved.count) is not a multiple of \(format.channels) channels")
        let frames = interleaved.count / format.channels
        guard let enc = FLAC__stream_encoder_new() else {
            throw DataError(file: url.path, "libFLAC could not allocate an encoder")
        }
        defer { FLAC__stream_encoder_delete(enc) }
        var ok = FLAC__stream_encoder_set_channels(enc, UInt32(format.channels)) != 0
        ok = ok && FLAC__stream_encoder_set_bits_per_sample(enc, UInt32(format.bitsPerSample)) != 0
        ok = ok && FLAC__stream_encoder_set_sample_rate(enc, UInt32(format.sampleRate)) != 0
        ok = ok && FLAC__stream_encoder_set_compression_level(enc, UInt32(compressionLevel)) != 0
        ok = ok && FLAC__stream_encoder_set_total_samples_estimate(enc, UInt64(frames)) != 0
        guard ok else { throw DataError(file: url.path, "libFLAC rejected the encoder settings \(format)") }
        let status = FLAC__stream_encoder_init_file(enc, url.path, nil, nil)
        guard status == FLAC__STREAM_ENCODER_INIT_STATUS_OK else {
            throw DataError(file: url.path, "cannot open for writing a FLAC stream (\(format)): "
                + encoderStateString(enc))
        }
        let processed = interleaved.withUnsafeBufferPointer { buf -> Bool in
            // Feed in blocks so that a long file never needs a second full-size buffer.
            let block = 1 << 16
            var start = 0
            while start < frames {
                let n = min(block, frames - start)
                let ok = FLAC__stream_encoder_process_interleaved(
                    enc, buf.baseAddress! + start * format.channels, UInt32(n))
                if ok == 0 { return false }
                start += n
            }
            return true
        }
        let finished = FLAC__stream_encoder_finish(enc) != 0
        guard processed && finished else {
            throw DataError(file: url.path, "FLAC encoding failed: " + encoderStateString(enc))
        }
    }

    static func encoderStateString(_ enc: UnsafeMutablePointer<FLAC__StreamEncoder>) -> String {
        let state = FLAC__stream_encoder_get_state(enc)
        return String(cString: FLAC__stream_encoder_get_resolved_state_string(enc))
            + " (state \(state.rawValue))"
    }
}

/// STREAMINFO fields the reader uses.
struct FlacStreamInfo {
    var format: FlacFormat
    var totalSamples: UInt64
    var hasMD5: Bool
}

/// Per-file decoding state, handed to libFLAC's callbacks through `client_data`.
final class FlacDecodeContext {
    let path: String
    let expect: FlacFormat?
    let headerOnly: Bool
    var info: FlacStreamInfo?
    var samples16: [Int16] = []
    var samples32: [Int32] = []
    /// The first problem found by a callback; decoding stops at it.
    var failure: String?
    var decodedFrames: UInt64 = 0

    init(path: String, expect: FlacFormat?, headerOnly: Bool) {
        self.path = path
        self.expect = expect
        self.headerOnly = headerOnly
    }

    func fail(_ message: String) {
        if failure == nil { failure = message }
    }

    /// Runs the decoder over the file; throws on the first problem.
    func run() throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(file: path, "file not found (expected a FLAC file)")
        }
        guard let dec = FLAC__stream_decoder_new() else {
            throw DataError(file: path, "libFLAC could not allocate a decoder")
        }
        defer { FLAC__stream_decoder_delete(dec) }
        _ = FLAC__stream_decoder_set_md5_checking(dec, 1)
        let client = Unmanaged.passUnretained(self).toOpaque()
        let status = FLAC__stream_decoder_init_file(dec, path, flacWriteCallback, flacMetadataCallback,
                                                    flacErrorCallback, client)
        guard status == FLAC__STREAM_DECODER_INIT_STATUS_OK else {
            throw DataError(file: path, "cannot open as a FLAC stream (libFLAC init status \(status.rawValue))")
        }
        let metadataOK = FLAC__stream_decoder_process_until_end_of_metadata(dec) != 0
        guard let info else {
            _ = FLAC__stream_decoder_finish(dec)
            throw DataError(file: path, "not a FLAC stream (no \"fLaC\" marker or STREAMINFO block)")
        }
        if let failure {
            _ = FLAC__stream_decoder_finish(dec)
            throw DataError(file: path, "corrupt FLAC stream: \(failure)")
        }
        guard metadataOK else {
            _ = FLAC__stream_decoder_finish(dec)
            throw DataError(file: path, "corrupt FLAC stream: unreadable metadata blocks")
        }
        if let expect, info.format != expect {
            _ = FLAC__stream_decoder_finish(dec)
            throw DataError(file: path, "expected \(expect) FLAC, found \(info.format)")
        }
        if headerOnly {
            _ = FLAC__stream_decoder_finish(dec)
            return
        }
        if info.totalSamples > 0 {
            let n = Int(info.totalSamples) * info.format.channels
            if expect == .speech { samples16.reserveCapacity(n) } else { samples32.reserveCapacity(n) }
        }
        let streamOK = FLAC__stream_decoder_process_until_end_of_stream(dec) != 0
        let state = FLAC__stream_decoder_get_state(dec)
        // `finish` verifies the MD5 signature of the decoded audio.
        let md5OK = FLAC__stream_decoder_finish(dec) != 0
        if let failure {
            throw DataError(file: path, "corrupt FLAC stream: \(failure)")
        }
        guard streamOK, state == FLAC__STREAM_DECODER_END_OF_STREAM else {
            throw DataError(file: path, "corrupt FLAC stream: decoding stopped in state \(state.rawValue)")
        }
        if info.totalSamples > 0 && decodedFrames != info.totalSamples {
            throw DataError(file: path, "corrupt FLAC stream: decoded \(decodedFrames) samples, "
                + "STREAMINFO announces \(info.totalSamples)")
        }
        if !md5OK {
            throw DataError(file: path, "corrupt FLAC stream: MD5 signature of the decoded audio does not match")
        }
    }
}

private func flacContext(_ client: UnsafeMutableRawPointer?) -> FlacDecodeContext {
    Unmanaged<FlacDecodeContext>.fromOpaque(client!).takeUnretainedValue()
}

private let flacWriteCallback: FLAC__StreamDecoderWriteCallback = { _, frame, buffer, client in
    let ctx = flacContext(client)
    guard let frame, let buffer else {
        ctx.fail("libFLAC delivered an empty frame")
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
    }
    let h = frame.pointee.header
    let format = FlacFormat(sampleRate: Int(h.sample_rate), channels: Int(h.channels),
                            bitsPerSample: Int(h.bits_per_sample))
    if let info = ctx.info, info.format != format {
        ctx.fail("a frame is \(format), STREAMINFO says \(info.format)")
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
    }
    if ctx.failure != nil { return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT }
    let n = Int(h.blocksize)
    let channels = Int(h.channels)
    if ctx.expect == .speech {
        let ch0 = buffer[0]!
        for i in 0..<n { ctx.samples16.append(Int16(truncatingIfNeeded: ch0[i])) }
    } else {
        for i in 0..<n {
            for c in 0..<channels { ctx.samples32.append(buffer[c]![i]) }
        }
    }
    ctx.decodedFrames += UInt64(n)
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE
}

private let flacMetadataCallback: FLAC__StreamDecoderMetadataCallback = { _, metadata, client in
    let ctx = flacContext(client)
    guard let metadata, metadata.pointee.type == FLAC__METADATA_TYPE_STREAMINFO else { return }
    let si = metadata.pointee.data.stream_info
    let md5 = si.md5sum
    let hasMD5 = withUnsafeBytes(of: md5) { $0.contains { $0 != 0 } }
    ctx.info = FlacStreamInfo(
        format: FlacFormat(sampleRate: Int(si.sample_rate), channels: Int(si.channels),
                           bitsPerSample: Int(si.bits_per_sample)),
        totalSamples: si.total_samples, hasMD5: hasMD5)
}

private let flacErrorCallback: FLAC__StreamDecoderErrorCallback = { _, status, client in
    let ctx = flacContext(client)
    let what: String
    switch status {
    case FLAC__STREAM_DECODER_ERROR_STATUS_LOST_SYNC: what = "lost sync (bytes that are not FLAC frames)"
    case FLAC__STREAM_DECODER_ERROR_STATUS_BAD_HEADER: what = "bad frame header"
    case FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH: what = "frame CRC mismatch"
    case FLAC__STREAM_DECODER_ERROR_STATUS_UNPARSEABLE_STREAM: what = "unparseable stream"
    default: what = "decoder error status \(status.rawValue)"
    }
    ctx.fail(what)
}
