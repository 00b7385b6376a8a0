// The common shapes of hub preference data, assembled straight from the columns: top-level
// scalars, and three-level lists of scalars or of flat structs (TRL's list<struct<role, content>>).
// All leaves of one list advance in lockstep, so a row is written without building RowNode trees.
// Files with any other shape (maps, nested lists, structs of structs, legacy two-level lists) use
// the general assembly in ParquetSource.

/// How one top-level field is assembled.
enum FlatField {
    case scalar(leaf: Int)
    /// A LIST: its node, the element node, and the element's leaves (one for a list of scalars).
    case list(list: SchemaNode, element: SchemaNode, leaves: [Int], structElement: Bool)
}

extension ParquetSource {
    /// The fast plan for this schema, or nil when some field has another shape.
    static func flatPlan(_ root: SchemaNode) -> [FlatField]? {
        var plan: [FlatField] = []
        for c in root.children {
            if c.isLeaf {
                guard c.e.repetition != .repeated, let k = c.leaf else { return nil }
                plan.append(.scalar(leaf: k))
                continue
            }
            guard c.e.annotation == .list, c.e.repetition != .repeated, c.children.count == 1 else { return nil }
            let rep = c.children[0]
            guard rep.e.repetition == .repeated, c.isThreeLevelList else { return nil }
            let el = rep.children[0]
            guard el.e.repetition != .repeated else { return nil }
            if el.isLeaf {
                guard let k = el.leaf else { return nil }
                plan.append(.list(list: c, element: el, leaves: [k], structElement: false))
            } else {
                guard el.e.annotation == .none, !el.children.isEmpty,
                      el.children.allSatisfy({ $0.isLeaf && $0.e.repetition != .repeated && $0.leaf != nil }) else { return nil }
                plan.append(.list(list: c, element: el, leaves: el.children.map { $0.leaf! }, structElement: true))
            }
        }
        return plan
    }

    /// The next row through the fast plan, as one JSON line.
    func assembleFlatRow(_ plan: [FlatField], into b: inout ByteBuffer) throws {
        b.append(UInt8(ascii: "{"))
        for (i, f) in plan.enumerated() {
            if i > 0 { b.append(", ") }
            b.appendJSONString(root.children[i].e.name); b.append(": ")
            switch f {
            case .scalar(let k):
                let d = leaves[k].defLevel > 0 ? Int(columns[k].def[levelPos[k]]) : 0
                emitLeaf(leaves[k], try nextValue(k, d), &b)
                levelPos[k] += 1
            case .list(let list, let element, let ks, let isStruct):
                let k0 = ks[0]
                let col0 = columns[k0]
                guard levelPos[k0] < col0.rep.count else {
                    throw StreamError(kind: .corrupt, message: "parquet: column '\(leaves[k0].e.name)' has fewer levels than rows", fileOffset: 0)
                }
                let d0 = Int(col0.def[levelPos[k0]])
                // The list itself: null (optional and undefined), empty, or its elements.
                let repNode = list.children[0]
                if d0 < repNode.defLevel {
                    b.append(list.e.repetition == .optional && d0 < list.defLevel ? "null" : "[]")
                    for k in ks { levelPos[k] += 1 }
                    continue
                }
                b.append(UInt8(ascii: "["))
                var first = true
                while true {
                    let li = levelPos[k0]
                    guard li < col0.rep.count, first || col0.rep[li] != 0 else { break }
                    if !first { b.append(", ") }
                    first = false
                    let de = Int(col0.def[li])
                    if element.e.repetition == .optional && de < element.defLevel {
                        b.append("null")
                        for k in ks { levelPos[k] += 1 }
                        continue
                    }
                    if isStruct { b.append(UInt8(ascii: "{")) }
                    for (j, k) in ks.enumerated() {
                        let col = columns[k]
                        guard levelPos[k] < col.def.count, levelPos[k] < col.rep.count, col.rep[levelPos[k]] == col0.rep[li] else {
                            throw StreamError(kind: .corrupt, message: "parquet: the leaves of list '\(list.e.name)' disagree on their levels", fileOffset: 0)
                        }
                        let d = Int(col.def[levelPos[k]])
                        if isStruct {
                            if j > 0 { b.append(", ") }
                            b.appendJSONString(element.children[j].e.name); b.append(": ")
                        }
                        emitLeaf(leaves[k], try nextValue(k, d), &b)
                        levelPos[k] += 1
                    }
                    if isStruct { b.append(UInt8(ascii: "}")) }
                }
                b.append(UInt8(ascii: "]"))
            }
        }
        b.append(UInt8(ascii: "}"))
        b.append(0x0A)
    }
}
