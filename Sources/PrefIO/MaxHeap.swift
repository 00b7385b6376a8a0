// A binary heap whose order is given: the element for which `above` holds against every other one
// comes out first. Used by BPE training (the most frequent pair) and by pairing (the largest gap).

public struct MaxHeap<Element> {
    @usableFromInline var items: [Element] = []
    @usableFromInline let above: (Element, Element) -> Bool

    /// `above(a, b)`: a comes out before b (a strict order; ties must be broken by the caller).
    @inlinable public init(above: @escaping (Element, Element) -> Bool) { self.above = above }

    @inlinable public var isEmpty: Bool { items.isEmpty }
    @inlinable public var count: Int { items.count }

    @inlinable public mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 { let p = (i - 1) / 2; if above(items[i], items[p]) { items.swapAt(i, p); i = p } else { break } }
    }

    @inlinable public mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && above(items[l], items[m]) { m = l }
                if r < items.count && above(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m); i = m
            }
        }
        return top
    }
}
