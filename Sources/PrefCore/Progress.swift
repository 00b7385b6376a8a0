import Foundation
import PrefIO
#if canImport(Glibc)
import Glibc
#endif

/// Progress of long work on stderr, one per process: a bar with the rate and an ETA on a terminal
/// (bytes when the input size is known, otherwise a count), a plain line every
/// PREFKIT_PROGRESS_SECONDS (default 10) when stderr is not a terminal, nothing with -q/--quiet.
/// Colours only on a terminal and never with NO_COLOR set (or TERM=dumb).
public final class Progress: @unchecked Sendable {
    public static let shared = Progress()

    public enum Mode: Sendable { case off, terminal, lines }

    private let lock = NSLock()
    public private(set) var mode: Mode
    private var colour: Bool
    private var interval: Double
    private var label = "prefkit"
    private var passes = 0
    private var total: Int64? = nil
    private var unit = "B"
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    init() {
        let env = ProcessInfo.processInfo.environment
        let args = CommandLine.arguments.dropFirst()
        let quiet = args.contains("-q") || args.contains("--quiet")
        let tty = isatty(2) != 0 && env["TERM"] != "dumb"
        mode = quiet ? .off : tty ? .terminal : .lines
        colour = tty && env["NO_COLOR"] == nil
        interval = Double(env["PREFKIT_PROGRESS_SECONDS"] ?? "") ?? 10
    }

    /// Names the work ("prefkit filter"); the first word of each line.
    public func setLabel(_ l: String) { lock.lock(); label = l; lock.unlock() }
    public func setMode(_ m: Mode) { lock.lock(); mode = m; lock.unlock() }

    /// Starts a pass over `total` units (bytes: "B"; or nil when not known, then a count).
    public func begin(total: Int64?, unit: String = "B") {
        lock.lock(); defer { lock.unlock() }
        passes += 1
        self.total = total; self.unit = unit
        started = Date(); lastDraw = Date(); drawn = false
    }

    /// `done` units so far and `items` records (or steps) so far.
    public func update(done: Int64, items: Int) {
        lock.lock(); defer { lock.unlock() }
        guard mode != .off else { return }
        let now = Date()
        let since = now.timeIntervalSince(lastDraw)
        switch mode {
        case .terminal: guard since >= min(0.2, interval), now.timeIntervalSince(started) >= min(0.5, interval) else { return }
        case .lines: guard since >= interval else { return }
        case .off: return
        }
        lastDraw = now
        drawn = true
        FileHandle.standardError.write(line(done: done, items: items, elapsed: now.timeIntervalSince(started)).data(using: .utf8)!)
    }

    /// A free-form status line (e.g. a training step): redrawn in place on a terminal, printed as a
    /// line at most every interval otherwise, dropped when off.
    public func note(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        switch mode {
        case .off: return
        case .terminal:
            drawn = true
            FileHandle.standardError.write("\r\u{1B}[K\(text)".data(using: .utf8)!)
        case .lines:
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= interval else { return }
            lastDraw = now
            FileHandle.standardError.write("\(label): \(text)\n".data(using: .utf8)!)
        }
    }

    /// Ends the pass: clears the bar, so the command's summary starts on a clean line.
    public func end() {
        lock.lock(); defer { lock.unlock() }
        if mode == .terminal && drawn { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        drawn = false
    }

    func line(done: Int64, items: Int, elapsed: Double) -> String {
        let name = passes > 1 ? "\(label) (pass \(passes))" : label
        let itemRate = Double(items) / max(elapsed, 1e-9)
        var parts: [String] = []
        var fraction: Double? = nil
        if let total, total > 0 {
            let f = min(1, Double(done) / Double(total))
            fraction = f
            let rate = Double(done) / max(elapsed, 1e-9)
            parts.append(String(format: "%3.0f%%", f * 100))
            parts.append("\(Progress.amount(Double(done), unit)) of \(Progress.amount(Double(total), unit))")
            parts.append(Progress.amount(rate, unit) + "/s")
            if f > 0.01 { parts.append("ETA " + Progress.duration(elapsed * (1 - f) / f)) }
        }
        parts.append(String(format: "%d records, %.0f/s", items, itemRate))
        if mode == .lines { return "\(name): " + parts.joined(separator: ", ") + "\n" }
        var bar = ""
        if let f = fraction {
            let width = 24, full = Int((f * Double(width)).rounded(.down))
            let filled = String(repeating: "█", count: full) + String(repeating: "░", count: width - full)
            bar = colour ? "\u{1B}[36m\(filled)\u{1B}[0m " : "[" + filled + "] "
        }
        let head = colour ? "\u{1B}[1m\(name)\u{1B}[0m" : name
        return "\r\u{1B}[K\(head) \(bar)" + parts.joined(separator: "  ")
    }

    /// The size of an input as stored, the total of its progress; nil for stdin or when unknown.
    public static func size(of path: String) -> Int64? {
        guard path != "-", let a = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (a[.size] as? NSNumber)?.int64Value
    }

    static func amount(_ v: Double, _ unit: String) -> String {
        guard unit == "B" else { return String(format: "%.0f %@", v, unit) }
        if v >= 1e9 { return String(format: "%.2f GB", v / 1e9) }
        if v >= 1e6 { return String(format: "%.1f MB", v / 1e6) }
        return String(format: "%.0f kB", v / 1e3)
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// A source that reports its reads to `Progress.shared`: the joins (Stack Exchange, OpenAssistant
/// message exports), which read an input whole before they emit pairs.
public final class ProgressSource: ByteSource {
    let inner: ByteSource
    let done: () -> Int64
    private var records = 0

    /// `done`: bytes of the stored input read so far (OpenedInput.bytesRead).
    public init(_ inner: ByteSource, total: Int64?, done: @escaping () -> Int64) {
        self.inner = inner
        self.done = done
        Progress.shared.begin(total: total)
    }

    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try inner.read(into: buf)
        // Lines stand in for records: a join's records are rows it has not parsed yet.
        records += buf.prefix(n).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        Progress.shared.update(done: done(), items: records)
        if n == 0 { Progress.shared.end() }
        return n
    }

    public var fileOffset: Int64 { inner.fileOffset }
}

/// Text from the outside world (file names, messages quoting input) made safe for a terminal:
/// control characters (ESC, BEL, CR, newline, C1 controls, DEL) are shown as `\xNN` escapes, so a
/// crafted name can neither recolour or retitle the terminal nor split a line in two.
/// `keepNewlines`: a message of several lines keeps its line breaks (every other control is escaped).
public func printable(_ s: String, keepNewlines: Bool = false) -> String {
    let escape = { (u: Unicode.Scalar) in isControl(u) && !(keepNewlines && u == "\n") }
    guard s.unicodeScalars.contains(where: escape) else { return s }
    var out = ""
    for u in s.unicodeScalars {
        if escape(u) {
            let h = String(u.value, radix: 16)
            out += u.value < 0x100 ? "\\x" + (h.count < 2 ? "0" + h : h) : "\\u{" + h + "}"
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}

private func isControl(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
}
