// Splits a decoded byte stream into records: JSON Lines, or the elements of a top-level JSON array,
// streamed in bounded memory. Records are handed out in batches that own their bytes, so
// batches can be processed on other threads.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A record that could not be read or converted, and the reject entry it becomes: where it is
/// (`file` is filled in once the record is attributed to an input), why, and its raw bytes.
public struct RecordFailure: Sendable {
    public var file: String
    public var line: Int
    public var offset: Int64
    public var reason: String
    public var message: String
    public var raw: [UInt8]
    public init(file: String = "", line: Int, offset: Int64, reason: String, message: String, raw: [UInt8]) {
        self.file = file; self.line = line; self.offset = offset; self.reason = reason; self.message = message; self.raw = raw
    }

    /// The same failure, attributed to the input `file`.
    public func at(_ file: String) -> RecordFailure { var f = self; f.file = file; return f }

    /// The rejects-file line: `{"file", "line", "offset", "reason", "message", "record"}`, the record
    /// as text (invalid UTF-8 shown as U+FFFD) cut at 64 KiB.
    public func json() -> [UInt8] {
        var b = ByteBuffer()
        b.append("{\"file\": "); b.appendJSONString(file)
        b.append(", \"line\": "); b.append(String(line))
        b.append(", \"offset\": "); b.append(String(offset))
        b.append(", \"reason\": "); b.appendJSONString(reason)
        b.append(", \"message\": "); b.appendJSONString(message)
        b.append(", \"record\": ")
        let shown = raw.count > 65536 ? Array(raw[..<65536]) : raw
        b.appendJSONString(shown.withUnsafeBytes { UTF8Check.lossyString($0) })
        if raw.count > 65536 { b.append(", \"record_truncated\": true") }
        b.append("}\n")
        return b.bytes
    }
}

/// Sendable because a batch has one owner at a time: the reader fills it, then hands it through a
/// locked queue to exactly one worker, and nobody touches it after the hand-off.
public final class RecordBatch: @unchecked Sendable {
    public var data: [UInt8] = []
    public var starts: [Int] = []
    public var ends: [Int] = []
    /// Line of the record's first byte (1-based).
    public var lines: [Int] = []
    /// Record number used in `source`: the line for JSON Lines, the 1-based element index for arrays.
    public var numbers: [Int] = []
    /// Offset of the record's first byte in the decoded stream.
    public var offsets: [Int64] = []
    public var failures: [RecordFailure] = []
    /// Set by whoever schedules the batch.
    public var inputIndex = 0
    public var sequence = 0

    public init() {}
    public var count: Int { starts.count }

    @inline(__always) public func withRecord<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[starts[i]..<ends[i]]))
        }
    }

    func add(_ p: UnsafePointer<UInt8>, _ n: Int, line: Int, number: Int, offset: Int64) {
        starts.append(data.count)
        data.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        ends.append(data.count)
        lines.append(line)
        numbers.append(number)
        offsets.append(offset)
    }
}

/// Makes room for more input in a read buffer: moves the unread bytes buf[pos..<filled] to the
/// front, and doubles the buffer when they fill it (shared by the JSON and XML readers).
func compactOrGrow(_ buf: inout UnsafeMutablePointer<UInt8>, _ cap: inout Int, _ pos: inout Int, _ filled: inout Int) {
    if pos > 0 {
        if filled > pos { memmove(buf, buf + pos, filled - pos) }
        filled -= pos
        pos = 0
    }
    if filled == cap {
        let ncap = cap * 2
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: ncap)
        nb.update(from: buf, count: filled)
        buf.deallocate()
        buf = nb
        cap = ncap
    }
}

public final class RecordReader {
    public enum Mode: String, Sendable { case lines = "jsonl", array = "json-array" }

    let src: ByteSource
    var buf: UnsafeMutablePointer<UInt8>
    var cap: Int
    var pos = 0
    var filled = 0
    var eof = false
    var streamError: StreamError?
    var done = false
    /// Line number and decoded offset of buf[pos].
    var line = 1
    var offset: Int64 = 0
    public private(set) var mode: Mode = .lines
    public let maxRecordBytes: Int
    var skipping = false
    var elementIndex = 0
    // Array-mode scanner state.
    var arrState = ArrayState.expectValueOrEnd
    enum ArrayState { case expectValueOrEnd, expectValue, afterValue, finished }

    /// `range`: the source is that part of a JSON Lines file, so lines are numbered from its first
    /// line, offsets from its start, and it is never taken for a JSON array.
    public init(_ src: ByteSource, maxRecordBytes: Int = 256 << 20, chunk: Int = 1 << 20, range: ByteRange? = nil) {
        self.src = src
        self.maxRecordBytes = maxRecordBytes
        cap = chunk
        buf = .allocate(capacity: cap)
        _ = fill()
        if let range {
            line = range.firstLine
            offset = range.start
            return
        }
        // UTF-8 byte order mark.
        if filled - pos >= 3 && buf[pos] == 0xEF && buf[pos + 1] == 0xBB && buf[pos + 2] == 0xBF {
            pos += 3; offset += 3
        }
        // A top-level array?
        while true {
            while pos < filled, isWS(buf[pos]) {
                if buf[pos] == 0x0A { line += 1 }
                pos += 1; offset += 1
            }
            if pos < filled || eof { break }
            if !fill() { break }
        }
        if pos < filled && buf[pos] == UInt8(ascii: "[") {
            mode = .array
            pos += 1; offset += 1
        }
    }
    deinit { buf.deallocate() }

    /// The next unread byte (after the byte order mark and leading whitespace), if any.
    public func peekByte() -> UInt8? { pos < filled ? buf[pos] : nil }
    /// The next `n` unread bytes, if buffered.
    public func peekBytes(_ n: Int) -> [UInt8]? { filled - pos >= n ? Array(UnsafeBufferPointer(start: buf + pos, count: n)) : nil }

    @inline(__always) func isWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// Reads more input, keeping the unread bytes (from `pos` on). Returns false at end.
    @discardableResult
    func fill() -> Bool {
        if eof { return false }
        compactOrGrow(&buf, &cap, &pos, &filled)
        do {
            let n = try src.read(into: UnsafeMutableRawBufferPointer(start: buf + filled, count: cap - filled))
            if n == 0 { eof = true; return false }
            filled += n
            return true
        } catch let e as StreamError {
            streamError = e; eof = true; return false
        } catch {
            streamError = StreamError(kind: .io, message: "\(error)", fileOffset: src.fileOffset)
            eof = true; return false
        }
    }

    func failStream(_ batch: RecordBatch, raw: [UInt8], dropped: Int? = nil) {
        if let e = streamError {
            let reason = e.kind == .truncated ? "truncated_input" : (e.kind == .corrupt ? "corrupt_input" : "read_error")
            batch.failures.append(RecordFailure(line: line, offset: offset, reason: reason,
                message: "\(e.message) at file byte \(e.fileOffset); \(dropped ?? raw.count) bytes of an incomplete record after decoded byte \(offset) dropped",
                raw: raw))
            streamError = nil
        }
    }

    /// The next batch of at least one record or failure, or nil at the end of the stream.
    public func nextBatch(targetBytes: Int = 1 << 20, maxRecords: Int = 8192) -> RecordBatch? {
        if done { return nil }
        let batch = RecordBatch()
        batch.data.reserveCapacity(targetBytes + (targetBytes >> 2))
        switch mode {
        case .lines: fillLines(batch, targetBytes, maxRecords)
        case .array: fillArray(batch, targetBytes, maxRecords)
        }
        if batch.count == 0 && batch.failures.isEmpty && done { return nil }
        return batch
    }

    func fillLines(_ batch: RecordBatch, _ target: Int, _ maxRecords: Int) {
        while batch.data.count < target && batch.count < maxRecords {
            let avail = filled - pos
            let nlp = avail > 0 ? memchr(buf + pos, 0x0A, avail) : nil
            if let nlp {
                let nl = UnsafeMutablePointer<UInt8>(nlp.assumingMemoryBound(to: UInt8.self)) - buf
                if skipping {
                    // The end of an oversize line, already reported.
                    skipping = false
                } else {
                    var end = nl
                    if end > pos && buf[end - 1] == 0x0D { end -= 1 }
                    if isBlank(pos, end) {
                    } else if end - pos > maxRecordBytes {
                        tooLarge(batch, end - pos)
                    } else {
                        batch.add(buf + pos, end - pos, line: line, number: line, offset: offset)
                    }
                }
                offset += Int64(nl + 1 - pos)
                pos = nl + 1
                line += 1
                continue
            }
            // No newline in the buffer.
            if skipping {
                offset += Int64(filled - pos); pos = filled
            } else if avail > maxRecordBytes + 1 {
                // Longer than the limit (a trailing CR aside) before its newline: reported now, the
                // rest of the line skipped as it arrives, so memory stays within the limit.
                tooLarge(batch, avail)
                skipping = true
                offset += Int64(avail); pos = filled
            }
            if !fill() {
                // End of stream: a final line without newline, and any stream error.
                if pos < filled && !skipping {
                    var end = filled
                    if end > pos && buf[end - 1] == 0x0D { end -= 1 }
                    if streamError != nil {
                        failStream(batch, raw: Array(UnsafeBufferPointer(start: buf + pos, count: filled - pos)))
                    } else if isBlank(pos, end) {
                    } else if end - pos > maxRecordBytes {
                        tooLarge(batch, end - pos)
                    } else {
                        batch.add(buf + pos, end - pos, line: line, number: line, offset: offset)
                    }
                    offset += Int64(filled - pos); pos = filled
                }
                failStream(batch, raw: [])
                done = true
                return
            }
        }
    }

    /// A record longer than --max-record-bytes at pos: rejected with its first KiB.
    func tooLarge(_ batch: RecordBatch, _ length: Int) {
        batch.failures.append(RecordFailure(line: line, offset: offset, reason: "record_too_large",
            message: "record longer than --max-record-bytes (\(maxRecordBytes) bytes); skipped",
            raw: Array(UnsafeBufferPointer(start: buf + pos, count: min(length, filled - pos, 1024)))))
    }

    func isBlank(_ a: Int, _ b: Int) -> Bool {
        var i = a
        while i < b { if !isWS(buf[i]) { return false }; i += 1 }
        return true
    }

    // MARK: JSON array elements

    func fillArray(_ batch: RecordBatch, _ target: Int, _ maxRecords: Int) {
        while batch.data.count < target && batch.count < maxRecords {
            // Skip whitespace and separators.
            while true {
                while pos < filled && isWS(buf[pos]) {
                    if buf[pos] == 0x0A { line += 1 }
                    pos += 1; offset += 1
                }
                if pos < filled { break }
                if !fill() { break }
            }
            if pos >= filled {
                if arrState != .finished {
                    if streamError != nil { failStream(batch, raw: []) } else {
                        batch.failures.append(RecordFailure(line: line, offset: offset, reason: "malformed_json",
                            message: "JSON array not closed: unexpected end of input", raw: []))
                    }
                }
                done = true
                return
            }
            let c = buf[pos]
            switch arrState {
            case .finished:
                batch.failures.append(RecordFailure(line: line, offset: offset, reason: "malformed_json",
                    message: "unexpected data after the closing ']' of the JSON array", raw: Array(UnsafeBufferPointer(start: buf + pos, count: min(filled - pos, 1024)))))
                done = true
                return
            case .afterValue:
                if c == UInt8(ascii: ",") { arrState = .expectValue; pos += 1; offset += 1; continue }
                if c == UInt8(ascii: "]") { arrState = .finished; pos += 1; offset += 1; continue }
                structureError(batch, "expected ',' or ']' between array elements")
                return
            case .expectValueOrEnd, .expectValue:
                if c == UInt8(ascii: "]") && arrState == .expectValueOrEnd { arrState = .finished; pos += 1; offset += 1; continue }
                if c == UInt8(ascii: "]") || c == UInt8(ascii: ",") { structureError(batch, "expected an array element"); return }
                let startLine = line, startOffset = offset
                switch scanElement() {
                case .element(let len):
                    elementIndex += 1
                    batch.add(buf + pos, len, line: line, number: elementIndex, offset: offset)
                    line += countNewlines(pos, len)
                    pos += len; offset += Int64(len)
                case .tooLarge(let head):
                    // Skipped to its end without buffering it whole.
                    elementIndex += 1
                    batch.failures.append(RecordFailure(line: startLine, offset: startOffset, reason: "record_too_large",
                        message: "array element \(elementIndex) longer than --max-record-bytes (\(maxRecordBytes) bytes); skipped", raw: head))
                case .incomplete(let raw):
                    if streamError != nil { failStream(batch, raw: raw, dropped: max(raw.count, filled - pos)) } else {
                        batch.failures.append(RecordFailure(line: startLine, offset: startOffset, reason: "malformed_json",
                            message: "unexpected end of input inside array element \(elementIndex + 1)", raw: raw))
                    }
                    done = true
                    return
                }
                arrState = .afterValue
            }
        }
    }

    func structureError(_ batch: RecordBatch, _ msg: String) {
        batch.failures.append(RecordFailure(line: line, offset: offset, reason: "malformed_json",
            message: "\(msg); the rest of the input is not read", raw: Array(UnsafeBufferPointer(start: buf + pos, count: min(filled - pos, 1024)))))
        done = true
    }

    func countNewlines(_ from: Int, _ n: Int) -> Int {
        var c = 0
        for k in 0..<n where buf[from + k] == 0x0A { c += 1 }
        return c
    }

    enum ElementScan {
        case element(Int)
        /// The element was longer than the limit; it has been skipped (its first KiB is kept).
        case tooLarge([UInt8])
        /// The input ended inside the element (its first KiB).
        case incomplete([UInt8])
    }

    /// Finds the end of the element starting at pos, reading more input as needed. An element that
    /// grows past --max-record-bytes is skipped to its end as the input arrives (bounded memory).
    func scanElement() -> ElementScan {
        var depth = 0
        var inString = false
        var escape = false
        var k = 0
        let first = buf[pos]
        let container = first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        let isString = first == UInt8(ascii: "\"")
        var head: [UInt8]? = nil
        func done(_ len: Int) -> ElementScan {
            if head == nil && len <= maxRecordBytes { return .element(len) }
            let h = head ?? Array(UnsafeBufferPointer(start: buf + pos, count: min(len, 1024)))
            line += countNewlines(pos, len); pos += len; offset += Int64(len)
            return .tooLarge(h)
        }
        while true {
            while pos + k < filled {
                let c = buf[pos + k]
                if inString {
                    if escape { escape = false }
                    else if c == UInt8(ascii: "\\") { escape = true }
                    else if c == UInt8(ascii: "\"") {
                        inString = false
                        if isString && depth == 0 { return done(k + 1) }
                    }
                } else if c == UInt8(ascii: "\"") {
                    inString = true
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    if !container && depth == 0 { return done(k) }
                    depth -= 1
                    if container && depth == 0 { return done(k + 1) }
                } else if !container && !isString && (c == UInt8(ascii: ",") || isWS(c)) {
                    return done(k)
                }
                k += 1
            }
            if head != nil || k > maxRecordBytes {
                // Oversize: keep the first KiB once, drop what was scanned, keep scanning.
                if head == nil { head = Array(UnsafeBufferPointer(start: buf + pos, count: min(k, 1024))) }
                line += countNewlines(pos, k); pos += k; offset += Int64(k); k = 0
            }
            if !fill() {
                if !container && !isString && k > 0 && streamError == nil { return done(k) }
                return .incomplete(head ?? Array(UnsafeBufferPointer(start: buf + pos, count: min(filled - pos, 1024))))
            }
        }
    }
}
