// The one ordered parallel pipeline every stage uses: a producer thread makes work items (record
// batches), worker threads turn each into a result, and the calling thread consumes the results in
// the order they were produced. Memory is bounded by the queue and the results waiting their turn.
import Foundation

public enum OrderedPipeline {
    /// Thrown by `emit` once the pipeline is closing (the consumer failed): the producer stops.
    public struct Closed: Error {}

    /// Runs `produce` on its own thread, `work` on `threads` worker threads, and `consume` on the
    /// calling thread, in production order. Returns when every thread has finished; rethrows the
    /// consumer's error first, then the producer's.
    public static func run<W: Sendable, R>(threads: Int,
                                           produce: @escaping @Sendable (_ emit: (W) throws -> Void) throws -> Void,
                                           work: @escaping @Sendable (W) -> R,
                                           consume: (R) throws -> Void) throws {
        let threads = max(1, threads)
        let queue = BoundedQueue<(Int, W)>(capacity: 2 * threads + 2)
        let results = OrderedResults<R>(capacity: 4 * threads + 4)
        let finished = DispatchGroup()
        let failure = ErrorBox()

        finished.enter()
        let producer = Thread {
            var seq = 0
            do {
                try produce { w in
                    guard queue.put((seq, w)) else { throw Closed() }
                    seq += 1
                }
            } catch is Closed {
            } catch { failure.set(error) }
            queue.close()
            finished.leave()
        }
        producer.stackSize = 8 << 20
        producer.start()

        results.expectWorkers(threads)
        for _ in 0..<threads {
            finished.enter()
            let w = Thread {
                while let (seq, item) = queue.take(max: 1).first {
                    if !results.put(seq, work(item)) { break }
                }
                results.workerDone()
                finished.leave()
            }
            w.stackSize = 8 << 20
            w.start()
        }

        var consumerError: Error?
        do {
            while let r = results.next() { try consume(r) }
        } catch { consumerError = error }
        // On a failure, closing both ends releases a producer blocked on a full queue and workers
        // blocked on full results; nothing is left running when this returns.
        queue.close()
        results.close()
        finished.wait()
        if let e = consumerError { throw e }
        if let e = failure.get() { throw e }
    }
}

/// The producer's error, set on its thread and read after it finished (under the lock).
private final class ErrorBox: @unchecked Sendable {
    private var error: Error?
    private let lock = NSLock()
    func set(_ e: Error) { lock.lock(); error = e; lock.unlock() }
    func get() -> Error? { lock.lock(); defer { lock.unlock() }; return error }
}

/// Results keyed by sequence number, handed out strictly in order. Sendable because every access
/// is under `cond`, and each result is put by one worker and taken once by the consumer.
private final class OrderedResults<R>: @unchecked Sendable {
    private var items: [Int: R] = [:]
    private var nextSeq = 0
    private var closed = false
    private var done = 0
    private var expected = -1
    private let cond = NSCondition()
    private let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    /// Blocks while too many results wait (except the one the consumer needs next). False once closed.
    func put(_ seq: Int, _ r: R) -> Bool {
        cond.lock(); defer { cond.unlock() }
        while !closed && seq != nextSeq && items.count >= capacity { cond.wait() }
        if closed { return false }
        items[seq] = r
        cond.broadcast()
        return true
    }
    func expectWorkers(_ n: Int) { cond.lock(); expected = n; cond.broadcast(); cond.unlock() }
    func workerDone() { cond.lock(); done += 1; cond.broadcast(); cond.unlock() }
    /// The next result in order, or nil when every worker has finished and nothing is left.
    func next() -> R? {
        cond.lock(); defer { cond.unlock() }
        while true {
            if let r = items.removeValue(forKey: nextSeq) { nextSeq += 1; cond.broadcast(); return r }
            if closed || (expected >= 0 && done >= expected) { return nil }
            cond.wait()
        }
    }
    func close() { cond.lock(); closed = true; cond.broadcast(); cond.unlock() }
}
