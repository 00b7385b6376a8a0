// Inputs seen by this run, so that no output overwrites one.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// The identities (device, inode) of every input of the run, so that no output can overwrite one.
public enum InputRegistry {
    struct FileID: Hashable { var dev: UInt64; var ino: UInt64 }
    nonisolated(unsafe) static var ids = Set<FileID>()
    nonisolated(unsafe) static var names: [FileID: String] = [:]
    /// The identity each input path had when the run expanded it.
    nonisolated(unsafe) static var identities: [String: FileID] = [:]
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    nonisolated(unsafe) static var lockReady: Bool = { pthread_mutex_init(&lock, nil); return true }()

    static func id(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// Records an input file (regular files only; stdin and devices cannot be overwritten by a rename).
    public static func register(_ path: String) {
        guard path != "-", let i = id(path) else { return }
        _ = lockReady
        pthread_mutex_lock(&lock); ids.insert(i); names[i] = names[i] ?? path; identities[path] = i; pthread_mutex_unlock(&lock)
    }

    /// Whether an opened descriptor is still the file the run expanded at `path` (true for a path
    /// that is not a registered input). Every open of an input checks it, so the bytes that decided
    /// the format (detection) and the bytes converted come from one file, even if the name is
    /// pointed elsewhere meanwhile.
    static func isSameInput(_ path: String, fd: Int32) -> Bool {
        _ = lockReady
        pthread_mutex_lock(&lock); let want = identities[path]; pthread_mutex_unlock(&lock)
        guard let want else { return true }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        return FileID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino)) == want
    }

    /// Records stdin when it is a regular file (`prefkit convert - -o raw.jsonl < raw.jsonl`).
    public static func registerStdin() {
        var st = stat()
        guard fstat(0, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return }
        let i = FileID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
        _ = lockReady
        pthread_mutex_lock(&lock); ids.insert(i); names[i] = names[i] ?? "stdin"; pthread_mutex_unlock(&lock)
    }

    static func inputNamed(_ path: String) -> String? {
        guard let i = id(path) else { return nil }
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return ids.contains(i) ? names[i] : nil
    }

    static func refuseIfInput(_ target: String, output: String) throws {
        if let input = inputNamed(target) {
            throw OutputError("output \(output) is the input \(input); refusing to overwrite an input (write elsewhere, then rename)", usage: true)
        }
    }

    /// Checks, before anything is read, that no output path is one of the registered inputs and that
    /// no two outputs name the same file. `nil` entries (options not given) and "-" are skipped.
    public static func checkOutputs(_ outputs: [(flag: String, path: String?)]) throws {
        var seen: [String: String] = [:]
        for (flag, p) in outputs {
            guard let p, p != "-" else { continue }
            if case .regular(let t) = try classifyOutput(p) {
                try refuseIfInput(t, output: p)
                let key = canonicalOutputPath(t)
                if let other = seen[key] { throw OutputError("\(flag) \(p) and \(other) name the same file", usage: true) }
                seen[key] = "\(flag) \(p)"
            }
        }
    }

    /// An absolute, link-free spelling of a (possibly not yet existing) file path.
    static func canonicalOutputPath(_ p: String) -> String {
        if let r = realpath(p, nil) { defer { free(r) }; return String(cString: r) }
        let slash = p.lastIndex(of: "/")
        let dir = slash.map { String(p[..<$0]) } ?? "."
        let name = slash.map { String(p[p.index(after: $0)...]) } ?? p
        if let r = realpath(dir.isEmpty ? "/" : dir, nil) { defer { free(r) }; return String(cString: r) + "/" + name }
        return p
    }
}
