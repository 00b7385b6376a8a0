// The hand-off between a reader thread and worker threads.
import Foundation

/// A bounded blocking queue between the reader thread and the workers (all state under `cond`).
public final class BoundedQueue<T: Sendable>: @unchecked Sendable {
    private var items: [T] = []
    private var closed = false
    private let cond = NSCondition()
    private let capacity: Int
    public init(capacity: Int) { self.capacity = capacity }

    /// Blocks while the queue is full; false (and the item dropped) once the queue is closed.
    @discardableResult
    public func put(_ x: T) -> Bool {
        cond.lock(); defer { cond.unlock() }
        while items.count >= capacity && !closed { cond.wait() }
        if closed { return false }
        items.append(x)
        cond.broadcast()
        return true
    }
    /// Blocks until an item is there, then takes up to `max`; empty once closed and drained.
    public func take(max: Int) -> [T] {
        cond.lock()
        while items.isEmpty && !closed { cond.wait() }
        let n = Swift.min(max, items.count)
        let out = Array(items[..<n])
        items.removeFirst(n)
        cond.broadcast()
        cond.unlock()
        return out
    }
    public func close() { cond.lock(); closed = true; cond.broadcast(); cond.unlock() }
}
