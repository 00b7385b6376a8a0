// Input arguments -> a sorted list of files: files as given, directories walked recursively
// (data files only, sorted), glob patterns, and "-" for stdin.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An input: its path ("-" for stdin) and the name it goes by in `source` and reports (the file
/// name; DIR/relative/path below a directory; the path as given when two inputs share a name).
public struct InputFile: Sendable, Equatable {
    public var path: String
    public var display: String
    /// A newline-aligned part of a plain JSON Lines file (a shard of one large file); nil: all of it.
    public var range: ByteRange? = nil
    /// Stdin, a FIFO, a pipe (`/dev/stdin`, `<(...)`), a character device: bytes that can be read
    /// only once. Such an input is opened once and never re-read: its format is detected from the
    /// stream itself, and a command that reads its inputs twice spools it to a private temp file first.
    public var isStream: Bool = false
    public init(path: String, display: String, range: ByteRange? = nil, isStream: Bool = false) {
        self.path = path; self.display = display; self.range = range; self.isStream = isStream || path == "-"
    }
}

/// Bytes [start, end) of a file, both at line starts, and the number of the first line there.
public struct ByteRange: Sendable, Equatable {
    public var start: Int64
    public var end: Int64
    public var firstLine: Int
    public init(start: Int64, end: Int64, firstLine: Int) { self.start = start; self.end = end; self.firstLine = firstLine }

    /// Part `index` of `count` of a file: the raw cut points size*k/count moved forward to the
    /// start of the next line, so every line is in exactly one part; the lines before it counted.
    public static func part(_ path: String, index: Int, count: Int) throws -> ByteRange {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StreamError(kind: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))", fileOffset: 0) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StreamError(kind: .io, message: "cannot stat \(path)", fileOffset: 0) }
        let size = Int64(st.st_size)
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        /// The first line start at or after `x` (0 and the end stay as they are).
        func align(_ x: Int64) throws -> Int64 {
            if x <= 0 { return 0 }
            if x >= size { return size }
            var at = x - 1
            while at < size {
                let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(at)) }
                guard n > 0 else { throw StreamError(kind: .io, message: "read error on \(path)", fileOffset: at) }
                if let k = buf[0..<n].firstIndex(of: 0x0A) { return at + Int64(k) + 1 }
                at += Int64(n)
            }
            return size
        }
        let start = try align(size * Int64(index) / Int64(count)), end = try align(size * Int64(index + 1) / Int64(count))
        // Line numbers continue from the lines before the start.
        var lines = 1
        var at: Int64 = 0
        while at < start {
            let want = Int(min(Int64(buf.count), start - at))
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(at)) }
            guard n > 0 else { throw StreamError(kind: .io, message: "read error on \(path)", fileOffset: at) }
            for b in buf[0..<n] where b == 0x0A { lines += 1 }
            at += Int64(n)
        }
        return ByteRange(start: start, end: max(start, end), firstLine: lines)
    }
}

public enum InputExpander {
    /// Names taken from directories: JSON / JSON Lines / XML data, plain or compressed, and Parquet
    /// (the hub's `data/train-00000-of-00004.parquet`).
    public static func isDataFile(_ name: String) -> Bool {
        if name.hasPrefix(".") { return false }
        let n = name.lowercased()
        // prefkit's own side files in an output directory: completion markers and rejects files.
        if n.hasSuffix(".done.json") || n.hasSuffix(".rejects.jsonl") || n == "rejects.jsonl" { return false }
        if n.contains(".json") || n.contains(".ndjson") || n.contains(".xml") || n.hasSuffix(".parquet") { return true }
        return n.hasSuffix(".gz") || n.hasSuffix(".zst") || n.hasSuffix(".zstd")
    }

    public static func expand(_ args: [String]) throws -> [InputFile] {
        var out: [InputFile] = []
        for a in args {
            if a == "-" { out.append(InputFile(path: "-", display: "stdin")); continue }
            var st = stat()
            if stat(a, &st) == 0 {
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    let base = basename(a)
                    for rel in walk(a) { out.append(InputFile(path: join(a, rel), display: base + "/" + rel)) }
                case S_IFREG:
                    out.append(InputFile(path: a, display: basename(a)))
                default:
                    // A FIFO, a pipe or a device named on the command line: read once, like stdin.
                    out.append(InputFile(path: a, display: basename(a), isStream: true))
                }
                continue
            }
            if a.contains("*") || a.contains("?") || a.contains("[") {
                let matches = glob(a)
                if matches.isEmpty { throw OutputError("no input matches the pattern \(a)") }
                for m in matches { out.append(InputFile(path: m, display: basename(m))) }
                continue
            }
            throw OutputError("input not found: \(a)")
        }
        // Names must identify records: where two inputs share a display name, use their paths.
        var seen: [String: Int] = [:]
        for e in out { seen[e.display, default: 0] += 1 }
        for i in out.indices where seen[out[i].display]! > 1 && out[i].path != "-" {
            out[i].display = normalize(out[i].path)
        }
        // No output of this run may overwrite an input (see InputRegistry.checkOutputs); stdin
        // redirected from a file (`< raw.jsonl`) is that file.
        for e in out { InputRegistry.register(e.path) }
        if out.contains(where: { $0.path == "-" }) { InputRegistry.registerStdin() }
        return out
    }

    static func normalize(_ p: String) -> String {
        var s = Substring(p)
        while s.hasPrefix("./") { s = s.dropFirst(2) }
        return String(s)
    }

    public static func basename(_ p: String) -> String {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        if let i = s.lastIndex(of: "/") { return String(s[s.index(after: i)...]) }
        return String(s)
    }

    static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }

    /// The names in a directory (without "." and ".."), unsorted; none when it cannot be opened.
    public static func names(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Relative paths of the regular data files below `dir`, sorted bytewise. Links are followed,
    /// but a directory is entered once (a link to a parent or a sibling adds nothing), and FIFOs,
    /// devices and sockets inside a directory are not inputs (name one explicitly to read it).
    static func walk(_ dir: String) -> [String] {
        var out: [String] = []
        struct DirID: Hashable { var dev: UInt64; var ino: UInt64 }
        var seen = Set<DirID>()
        var top = stat()
        if stat(dir, &top) == 0 { seen.insert(DirID(dev: UInt64(top.st_dev), ino: UInt64(top.st_ino))) }
        func rec(_ rel: String) {
            let full = rel.isEmpty ? dir : join(dir, rel)
            for name in InputExpander.names(in: full).filter({ !$0.hasPrefix(".") }).sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let r = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard stat(join(dir, r), &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    if seen.insert(DirID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))).inserted { rec(r) }
                case S_IFREG:
                    if isDataFile(name) { out.append(r) }
                default: break
                }
            }
        }
        rec("")
        return out
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
    }
}
