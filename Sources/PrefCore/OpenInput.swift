// Opening an input, the one way every stage does it: the file (or stdin), its compression detected
// from the bytes, and, when that fails, the single reject that stands for the whole input.
import PrefIO

public struct OpenedInput {
    public let raw: FileSource
    public let source: ByteSource
    public let compression: Compression
    /// Bytes of the stored input read so far (for Parquet, the footer and the column chunks read).
    public var bytesRead: Int64 { compression == .parquet ? source.fileOffset : raw.fileOffset - base }
    /// Where a byte range starts (0 for a whole input).
    var base: Int64 = 0

    /// The opened and decoded input, or the reject that accounts for it: `unsupported_compression`
    /// (xz, bzip2, Parquet on stdin, ...), `corrupt_input` or `truncated_input` (a Parquet footer
    /// that is damaged or missing) or `unreadable_input` (missing, unreadable, a directory, ...).
    /// Opens an input, or a byte range of a plain JSON Lines file (read as it is, not decoded).
    public static func open(_ path: String, range: ByteRange? = nil) -> Result<OpenedInput, RecordFailure> {
        do {
            if let range {
                let raw = try FileSource(path: path, range: range)
                var o = OpenedInput(raw: raw, source: raw, compression: .none)
                o.base = range.start
                return .success(o)
            }
            let raw = try FileSource(path: path)
            let (src, comp) = try Sources.decoding(raw)
            return .success(OpenedInput(raw: raw, source: src, compression: comp))
        } catch {
            let reason: String
            switch (error as? StreamError)?.kind {
            case .unsupported: reason = "unsupported_compression"
            case .corrupt: reason = "corrupt_input"
            case .truncated: reason = "truncated_input"
            default: reason = "unreadable_input"
            }
            return .failure(RecordFailure(line: 0, offset: 0, reason: reason, message: "\(error)", raw: []))
        }
    }
}

/// A reject can be the failure of a `Result` (an input that cannot be opened).
extension RecordFailure: Error {}
