// A regular file mapped read-only (model weights: GGUF and safetensors), unmapped when released.
#if canImport(Glibc)
import Glibc
#endif

final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    /// `what` names the file's kind in messages; `minSize` is what its header needs at least.
    init(path: String, what: String, minSize: Int) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TrainError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw TrainError("\(path): not a regular file") }
        let size = Int(st.st_size)
        guard size >= minSize else { throw TrainError("\(path): too short for \(what) (\(size) bytes)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TrainError("\(path): cannot map the file: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}
