// A run's outputs as one unit: each created private (a temp file beside its target), all finished
// before any is renamed into place, or all removed.
import PrefIO

/// An output that is finished in two steps: `prepare` does everything that can fail for a reason
/// of its own (compression end, footers, close, fsync), `publish` renames it into place.
public protocol RunOutput: AnyObject {
    func prepare() throws
    func publish() throws
    func abort()
}

extension EncodedFile: RunOutput {
    public func prepare() throws { try finish() }
}
extension RecordSink: RunOutput {}
extension LazyOutput: RunOutput {}

/// The outputs of one run. Every command registers its data files, side files (rejects, removed
/// records, clusters, registries) and summary here, and `publish` makes them appear together: a
/// failure while any of them is finished (a full disk, a summary path that cannot be written)
/// publishes none of them. `abort` removes every temp file.
public final class RunOutputs {
    var items: [RunOutput] = []
    var done = false

    public init() {}

    @discardableResult
    public func add<T: RunOutput>(_ o: T) -> T { items.append(o); return o }

    /// A small whole file (a summary, a registry) written now and published with the rest.
    public func addWhole(_ bytes: [UInt8], to path: String) throws {
        let f = try EncodedFile(path: path, compression: .none, level: 0)
        add(f)
        try f.write(bytes)
    }

    /// Finishes every output registered so far (nothing visible yet); on a failure every temp
    /// file is removed. Preparing twice is harmless.
    public func prepare() throws {
        do {
            for o in items { try o.prepare() }
        } catch { abort(); throw error }
    }

    /// Finishes every output, then renames each into place; on a failure before the renames,
    /// nothing is published and every temp file is removed.
    public func publish() throws {
        guard !done else { return }
        try prepare()
        done = true
        for o in items { try o.publish() }
    }

    public func abort() {
        guard !done else { return }
        done = true
        for o in items { o.abort() }
    }
}
