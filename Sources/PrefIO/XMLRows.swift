// Streaming reader of `<row .../>` elements (the Stack Exchange dump layout), from any ByteSource
// (files, gzip/zstd, stdin).
//
// The document is delimited into rows here, in one linear pass over the bytes, and each row is
// parsed on its own by libxml2 from memory. That gives four guarantees a single libxml2 stream
// reader over the whole file cannot:
// - No DTD is ever loaded or applied: the prolog (XML declaration, DOCTYPE with any internal subset,
//   comments) is skipped, and each row is parsed as a document of its own, which has no DTD. So no
//   external entity, parameter entity or DTD file is opened, and no entity can be declared, let
//   alone expanded ("billion laughs"). A row that refers to an entity other than XML's five
//   predefined ones and character references is rejected (`xml_entity`). An external entity loader
//   that refuses everything is installed as a second lock.
// - Linear time for any attribute size: libxml2's push parser rescans its buffer for each chunk
//   of a large start tag (quadratic above ~10 MB); parsing one complete row from memory is linear.
// - A row larger than the record limit is rejected (`record_too_large`) without being buffered whole.
// - One broken row (invalid UTF-8, a bad attribute) is one reject; reading resumes with the next row.
#if canImport(Glibc)
import Glibc
#endif
import CXML2

public struct XMLRowError: Error, CustomStringConvertible, Sendable {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "XML error at line \(line), column \(column): \(message)" }
}

/// A row that could not be read: where it starts, why, and what to say about it.
public struct XMLBadRow: Sendable {
    public var line: Int
    public var offset: Int64
    public var reason: String
    public var message: String
    public var raw: [UInt8]
}

public enum XMLRowItem {
    /// The wanted attributes' values (in the order asked for; nil when absent).
    case row(line: Int, values: [[UInt8]?])
    case bad(XMLBadRow)
}

public final class XMLRowReader {
    let source: ByteSource
    /// Names of the attributes to keep.
    let wanted: [[UInt8]]
    let maxRowBytes: Int
    var buf: UnsafeMutablePointer<UInt8>
    var cap: Int
    var pos = 0
    var filled = 0
    var eof = false
    var finished = false
    var started = false
    /// Line and decoded byte offset of buf[pos].
    public private(set) var line = 1
    var offset: Int64 = 0
    let ctxt: xmlParserCtxtPtr?

    static let loaderInstalled: Bool = {
        // Whatever asks libxml2 for an external resource (DTD, entity, XInclude) gets nothing.
        xmlSetExternalEntityLoader { _, _, _ in nil }
        return true
    }()

    public init(_ source: ByteSource, attributes: [String], maxRowBytes: Int = 256 << 20, chunk: Int = 1 << 20) {
        _ = XMLRowReader.loaderInstalled
        self.source = source
        wanted = attributes.map { Array($0.utf8) }
        self.maxRowBytes = max(64, maxRowBytes)
        cap = max(64, chunk)
        buf = .allocate(capacity: cap)
        ctxt = xmlNewParserCtxt()
    }

    deinit {
        buf.deallocate()
        if let c = ctxt { xmlFreeParserCtxt(c) }
    }

    // MARK: Buffer

    /// Reads more input (keeping buf[pos...]); false at the end. Damaged streams throw StreamError.
    func fill() throws -> Bool {
        if eof { return false }
        compactOrGrow(&buf, &cap, &pos, &filled)
        let n = try source.read(into: UnsafeMutableRawBufferPointer(start: buf + filled, count: cap - filled))
        if n == 0 { eof = true; return false }
        filled += n
        return true
    }

    /// Makes at least `n` bytes available from pos, if the input has them.
    func ensure(_ n: Int) throws -> Bool {
        while filled - pos < n { if !(try fill()) { return filled - pos >= n } }
        return true
    }

    /// Moves pos forward by n bytes, counting lines.
    func advance(_ n: Int) {
        line += countNewlines(buf + pos, n)
        pos += n
        offset += Int64(n)
    }

    func countNewlines(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var c = 0
        var i = 0
        while i < n, let hit = memchr(p + i, 0x0A, n - i) {
            c += 1
            i = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p + 1
        }
        return c
    }

    func startsWith(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        return filled - pos >= n && memcmp(buf + pos, s.utf8Start, n) == 0
    }

    /// Skips past the next occurrence of `term`, streaming (nothing is kept). False at the end.
    func skipPast(_ term: StaticString) throws -> Bool {
        let n = term.utf8CodeUnitCount
        while true {
            if filled - pos >= n {
                var i = pos
                let last = filled - n
                while i <= last {
                    guard let hit = memchr(buf + i, Int32(term.utf8Start[0]), last - i + 1) else { break }
                    let h = hit.assumingMemoryBound(to: UInt8.self) - buf
                    if memcmp(buf + h, term.utf8Start, n) == 0 { advance(h + n - pos); return true }
                    i = h + 1
                }
                advance(max(0, filled - pos - (n - 1)))
            }
            if !(try fill()) { advance(filled - pos); return false }
        }
    }

    // MARK: Rows

    /// The next row, a row that could not be read, or nil at the end of the document.
    /// A damaged compressed stream throws StreamError (nothing after it can be read).
    public func next() throws -> XMLRowItem? {
        if !pending.isEmpty { return .bad(pending.removeFirst()) }
        if finished { return nil }
        if !started {
            started = true
            if let bad = try prolog() { finished = true; return .bad(bad) }
        }
        while true {
            // Text between elements is skipped.
            var lt: Int? = nil
            while true {
                if pos < filled, let hit = memchr(buf + pos, 0x3C, filled - pos) {
                    lt = hit.assumingMemoryBound(to: UInt8.self) - buf
                    break
                }
                advance(filled - pos)
                if !(try fill()) { break }
            }
            guard let at = lt else { finished = true; return nil }
            advance(at - pos)
            _ = try ensure(9)
            if startsWith("<!--") { if !(try skipPast("-->")) { return unclosed("comment") }; continue }
            if startsWith("<![CDATA[") { if !(try skipPast("]]>")) { return unclosed("CDATA section") }; continue }
            if startsWith("<?") { if !(try skipPast("?>")) { return unclosed("processing instruction") }; continue }
            if startsWith("<!") { if let bad = try skipDeclaration() { return .bad(bad) }; continue }
            if startsWith("</") { if !(try skipPast(">")) { return unclosed("end tag") }; continue }
            if let item = try element() { return item }
        }
    }

    func unclosed(_ what: String) -> XMLRowItem {
        finished = true
        return .bad(XMLBadRow(line: line, offset: offset, reason: "malformed_xml",
                              message: "XML error at line \(line): a \(what) is not closed before the end of the input", raw: []))
    }

    /// BOM and XML declaration: UTF-8 only (what every Stack Exchange dump is).
    func prolog() throws -> XMLBadRow? {
        _ = try ensure(4)
        if filled - pos >= 2 && ((buf[pos] == 0xFE && buf[pos + 1] == 0xFF) || (buf[pos] == 0xFF && buf[pos + 1] == 0xFE)) {
            return XMLBadRow(line: 1, offset: 0, reason: "unsupported_encoding", message: "UTF-16 XML is not supported; convert the file to UTF-8 (iconv -f UTF-16 -t UTF-8)", raw: [])
        }
        // UTF-16 without a byte order mark: '<' then NUL (little endian) or NUL then '<' (big endian).
        if filled - pos >= 4 && ((buf[pos] == 0x3C && buf[pos + 1] == 0 && buf[pos + 3] == 0) || (buf[pos] == 0 && buf[pos + 1] == 0x3C && buf[pos + 2] == 0)) {
            return XMLBadRow(line: 1, offset: 0, reason: "unsupported_encoding", message: "the file looks like UTF-16 XML without a byte order mark; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)", raw: [])
        }
        if filled - pos >= 3 && buf[pos] == 0xEF && buf[pos + 1] == 0xBB && buf[pos + 2] == 0xBF { advance(3) }
        guard startsWith("<?xml") else { return nil }
        // The declaration is short; read it whole (bounded) to check its encoding.
        var end: Int? = nil
        while end == nil {
            var i = pos
            while i + 1 < filled { if buf[i] == 0x3F && buf[i + 1] == 0x3E { end = i + 2; break }; i += 1 }
            if end != nil { break }
            if try (filled - pos > 4096 || !fill()) { break }
        }
        guard let e = end else {
            return XMLBadRow(line: line, offset: offset, reason: "malformed_xml", message: "XML error at line \(line): the XML declaration is not closed", raw: [])
        }
        let decl = Array(String(decoding: UnsafeBufferPointer(start: buf + pos, count: e - pos), as: UTF8.self).lowercased())
        let key = Array("encoding")
        if let at = (0...max(0, decl.count - key.count)).first(where: { decl.count >= key.count && Array(decl[$0..<($0 + key.count)]) == key }) {
            let rest = decl[(at + key.count)...].drop { $0 == " " || $0 == "=" || $0 == "\t" }
            if let q = rest.first, q == "\"" || q == "'" {
                let name = String(rest.dropFirst().prefix { $0 != q })
                if !["utf-8", "utf8", "us-ascii", "ascii"].contains(String(name)) {
                    return XMLBadRow(line: line, offset: offset, reason: "unsupported_encoding",
                                     message: "the XML declaration says encoding \"\(name)\"; only UTF-8 is supported (convert with iconv)", raw: [])
                }
            }
        }
        advance(e - pos)
        return nil
    }

    /// `<!DOCTYPE ...>` (with any internal subset) or another `<!...>` declaration: skipped unread,
    /// aware of quotes, brackets, comments and processing instructions (an apostrophe in
    /// `<!-- it's -->` opens no quote). Its entity declarations are never applied.
    func skipDeclaration() throws -> XMLBadRow? {
        let startLine = line, startOffset = offset
        var depth = 0
        var quote: UInt8 = 0
        /// Inside a comment ("-->" ends it) or a processing instruction ("?>").
        var closer: [UInt8]? = nil
        var i = pos + 2
        while true {
            scan: while i < filled {
                let c = buf[i]
                if let end = closer {
                    guard i + end.count <= filled else { break scan }            // need more bytes to tell
                    if memcmp(buf + i, end, end.count) == 0 { i += end.count; closer = nil; continue }
                    i += 1
                    continue
                }
                if quote != 0 { if c == quote { quote = 0 } }
                else if c == 0x22 || c == 0x27 { quote = c }
                else if c == 0x3C {
                    guard i + 4 <= filled || eof else { break scan }
                    if i + 4 <= filled && buf[i + 1] == 0x21 && buf[i + 2] == 0x2D && buf[i + 3] == 0x2D { closer = Array("-->".utf8); i += 4; continue }
                    if i + 2 <= filled && buf[i + 1] == 0x3F { closer = Array("?>".utf8); i += 2; continue }
                }
                else if c == 0x5B { depth += 1 }
                else if c == 0x5D { depth -= 1 }
                else if c == 0x3E && depth <= 0 { advance(i + 1 - pos); return nil }
                i += 1
            }
            let consumed = i - pos
            if consumed > maxRowBytes {
                finished = true
                return XMLBadRow(line: startLine, offset: startOffset, reason: "record_too_large",
                                 message: "a declaration (DOCTYPE) longer than --max-record-bytes (\(maxRowBytes)); the rest of the document is not read", raw: [])
            }
            if !(try fill()) {
                if i < filled { i = pos + consumed; eofTail += 1; if eofTail < 8 { continue } }
                finished = true
                return XMLBadRow(line: startLine, offset: startOffset, reason: "malformed_xml",
                                 message: "XML error at line \(startLine): a <!...> declaration is not closed before the end of the input", raw: [])
            }
            i = pos + consumed
        }
    }
    /// Rescans of the last bytes once the input has ended (a construct cut by the end).
    var eofTail = 0

    @inline(__always) func isNameEnd(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x2F || c == 0x3E
    }

    /// A start tag at pos: a row (returned) or another element (skipped, nil).
    func element() throws -> XMLRowItem? {
        let startLine = line, startOffset = offset
        // The element's name.
        var rel = 1
        while true {
            while pos + rel < filled && !isNameEnd(buf[pos + rel]) { rel += 1 }
            if try (pos + rel < filled || rel > 4096 || !fill()) { break }
        }
        let k = pos + rel
        var name = Array(UnsafeBufferPointer(start: buf + pos + 1, count: max(0, min(k, filled) - pos - 1)))
        if let colon = name.lastIndex(of: 0x3A) { name = Array(name[(colon + 1)...]) }
        let isRow = name == [0x72, 0x6F, 0x77]
        // A name with a NUL or another control byte is no element at all: counted, not skipped.
        if name.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return try damaged(startLine, startOffset, tooLarge: false, why: "a control byte (such as NUL) in an element name") }
        // The end of the start tag, outside quoted attribute values.
        guard let (tagEnd, selfClosing) = try findTagEnd() else {
            return try damaged(startLine, startOffset, tooLarge: filled - pos > maxRowBytes)
        }
        guard isRow else { advance(tagEnd - pos); return nil }
        // libxml2 checks each attribute against every earlier one (quadratic): a row with more
        // attributes than any dump has is refused before it is parsed.
        if tagAttributes > XMLRowReader.maxAttributes {
            let raw = Array(UnsafeBufferPointer(start: buf + pos, count: min(tagEnd - pos, 1024)))
            advance(tagEnd - pos)
            if !selfClosing, let e = try findRowEnd(from: pos) { advance(e - pos) }
            return .bad(XMLBadRow(line: startLine, offset: startOffset, reason: "too_many_attributes",
                                  message: "row with \(tagAttributes) attributes (more than \(XMLRowReader.maxAttributes)); skipped", raw: raw))
        }
        var end = tagEnd
        if !selfClosing {
            // A row with content: up to its end tag.
            guard let e = try findRowEnd(from: tagEnd) else { return try damaged(startLine, startOffset, tooLarge: filled - pos > maxRowBytes) }
            end = e
        }
        let n = end - pos
        if n > maxRowBytes {
            let raw = Array(UnsafeBufferPointer(start: buf + pos, count: min(n, 1024)))
            advance(n)
            return .bad(XMLBadRow(line: startLine, offset: startOffset, reason: "record_too_large",
                                  message: "row longer than --max-record-bytes (\(maxRowBytes)); skipped", raw: raw))
        }
        // The row and the NUL libxml2 expects after its input, in one copy.
        let row = [UInt8](unsafeUninitializedCapacity: n + 1) { b, count in
            b.baseAddress!.update(from: buf + pos, count: n)
            b[n] = 0
            count = n + 1
        }
        advance(n)
        return parse(row, line: startLine, offset: startOffset)
    }

    /// Attributes a row may have (a Stack Exchange row has about 20).
    static let maxAttributes = 1000
    /// The number of quoted values in the last start tag `findTagEnd` delimited.
    var tagAttributes = 0

    /// Index just past the '>' that closes the start tag at pos, and whether it was "/>".
    /// Nil when the input ends first or the tag grows past the record limit.
    func findTagEnd() throws -> (Int, Bool)? {
        var quote: UInt8 = 0
        var i = pos + 1
        tagAttributes = 0
        while true {
            while i < filled {
                if quote != 0 {
                    guard let hit = memchr(buf + i, Int32(quote), filled - i) else { i = filled; break }
                    i = hit.assumingMemoryBound(to: UInt8.self) - buf + 1
                    quote = 0
                    continue
                }
                let c = buf[i]
                if c == 0x22 || c == 0x27 { quote = c; tagAttributes += 1 }
                else if c == 0x3E { return (i + 1, i > pos + 1 && buf[i - 1] == 0x2F) }
                else if c == 0x3C { return nil }       // a '<' outside quotes: this tag is broken
                i += 1
            }
            if i - pos > maxRowBytes { return nil }
            let consumed = i - pos
            if !(try fill()) { return nil }
            i = pos + consumed
        }
    }

    /// Index just past `</row>` (or `</x:row>`) after `from`; nil at the end or past the limit.
    func findRowEnd(from: Int) throws -> Int? {
        var i = from
        while true {
            while i < filled, let hit = memchr(buf + i, 0x3C, filled - i) {
                let h = hit.assumingMemoryBound(to: UInt8.self) - buf
                // "</x:row>" needs 8 bytes to be told apart; at the end of the input, what is left decides.
                if filled - h < 8 && !eof { i = h; break }
                if buf[h + 1] == 0x2F {
                    var j = h + 2
                    while j < filled && buf[j] != 0x3E && !isNameEnd(buf[j]) { j += 1 }
                    var name = Array(UnsafeBufferPointer(start: buf + h + 2, count: j - h - 2))
                    if let colon = name.lastIndex(of: 0x3A) { name = Array(name[(colon + 1)...]) }
                    if name == [0x72, 0x6F, 0x77], let gt = memchr(buf + j, 0x3E, filled - j) {
                        return gt.assumingMemoryBound(to: UInt8.self) - buf + 1
                    }
                }
                i = h + 1
            }
            if i - pos > maxRowBytes { return nil }
            let consumed = i - pos
            if eof { return nil }
            _ = try fill()          // at the end, the loop above reads the last bytes once more
            i = pos + consumed
        }
    }

    /// A row that cannot be delimited (unclosed quote or tag, or too large): one reject, then reading
    /// resumes at the next line that begins with '<' (Stack Exchange dumps hold one row per line).
    func damaged(_ startLine: Int, _ startOffset: Int64, tooLarge: Bool, why given: String? = nil) throws -> XMLRowItem {
        // Collect the stretch up to the next line starting with "<row" (or the end), bounded.
        var stretch: [UInt8] = []
        let limit = 1024
        // Skip the current line.
        func skipLine() throws -> Bool {
            while true {
                if let hit = memchr(buf + pos, 0x0A, filled - pos) {
                    let n = hit.assumingMemoryBound(to: UInt8.self) - buf + 1 - pos
                    if stretch.count < limit { stretch += UnsafeBufferPointer(start: buf + pos, count: min(n, limit - stretch.count)) }
                    advance(n)
                    return true
                }
                if stretch.count < limit { stretch += UnsafeBufferPointer(start: buf + pos, count: min(filled - pos, limit - stretch.count)) }
                advance(filled - pos)
                if !(try fill()) { return false }
            }
        }
        var more = try skipLine()
        // Lines that begin with '<' but not "<row" stay part of the damage; a "<row" line is a row again.
        while more {
            _ = try ensure(64)
            var i = pos
            while i < filled && (buf[i] == 0x20 || buf[i] == 0x09 || buf[i] == 0x0D) { i += 1 }
            if i < filled && buf[i] == 0x3C { break }
            more = try skipLine()
        }
        let why = given ?? (tooLarge ? "row longer than --max-record-bytes (\(maxRowBytes))" : "row not closed (an unterminated quote or tag)")
        return .bad(XMLBadRow(line: startLine, offset: startOffset, reason: tooLarge ? "record_too_large" : "malformed_xml",
                              message: "XML error at line \(startLine): \(why); skipped to the next line that starts a row",
                              raw: stretch))
    }

    // MARK: libxml2

    /// The wanted attributes of the row being parsed, filled by the SAX callback.
    var current: [[UInt8]?] = []
    var seenRoot = false
    /// `row` elements found inside the row being parsed (each is reported as a reject of its own).
    var nestedRows = 0
    /// Rejects waiting to be returned by `next` (the nested rows of the last row).
    var pending: [XMLBadRow] = []

    /// A SAX2 handler with only startElementNs: no tree is built, the row element's attribute values
    /// (already decoded: character references and the predefined entities) are copied straight out.
    /// Immutable after initialization and only copied from, so sharing it across threads is safe
    /// (the C struct's function pointers are what makes it non-Sendable to the compiler).
    nonisolated(unsafe) static let handler: xmlSAXHandler = {
        var h = xmlSAXHandler()
        h.initialized = UInt32(XML_SAX2_MAGIC)
        h.startElementNs = { ctx, localname, _, _, _, _, nbAttributes, _, attributes in
            guard let ctx, let attributes else { return }
            let c = ctx.assumingMemoryBound(to: xmlParserCtxt.self)
            guard let priv = c.pointee._private else { return }
            let me = Unmanaged<XMLRowReader>.fromOpaque(priv).takeUnretainedValue()
            if me.seenRoot {
                if let local = localname, strcmp(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self), "row") == 0 { me.nestedRows += 1 }
                return
            }
            me.seenRoot = true
            for a in 0..<Int(nbAttributes) {
                guard let an = attributes[5 * a], let v = attributes[5 * a + 3], let e = attributes[5 * a + 4] else { continue }
                let len = strlen(UnsafeRawPointer(an).assumingMemoryBound(to: CChar.self))
                for (k, w) in me.wanted.enumerated() where w.count == len && memcmp(an, w, len) == 0 {
                    me.current[k] = Array(UnsafeBufferPointer(start: v, count: e - v))
                    break
                }
            }
        }
        return h
    }()

    /// Parses one delimited row from memory (no DTD, no network, no entity expansion possible).
    /// `row` ends with a NUL byte that is not part of the XML.
    func parse(_ row: [UInt8], line startLine: Int, offset startOffset: Int64) -> XMLRowItem {
        guard let ctxt else {
            return .bad(XMLBadRow(line: startLine, offset: startOffset, reason: "malformed_xml", message: "libxml2 parser context could not be created", raw: []))
        }
        // NOENT only decodes the five predefined entities here: a row has no DTD, so no other entity exists.
        let options = Int32(XML_PARSE_NOENT.rawValue | XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_HUGE.rawValue)
        current = [[UInt8]?](repeating: nil, count: wanted.count)
        seenRoot = false
        nestedRows = 0
        ctxt.pointee.sax.pointee = XMLRowReader.handler
        ctxt.pointee._private = Unmanaged.passUnretained(self).toOpaque()
        // What xmlCtxtReadMemory does, over a static (uncopied, never "grown") input buffer.
        xmlCtxtReset(ctxt)
        let ok: Bool = row.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { p in
                guard let input = xmlParserInputBufferCreateStatic(p, Int32(b.count - 1), XML_CHAR_ENCODING_NONE) else { return false }
                guard let stream = xmlNewIOInputStream(ctxt, input, XML_CHAR_ENCODING_NONE) else { xmlFreeParserInputBuffer(input); return false }
                _ = inputPush(ctxt, stream)
                _ = xmlCtxtUseOptions(ctxt, options)
                _ = xmlParseDocument(ctxt)
                if let d = ctxt.pointee.myDoc { xmlFreeDoc(d); ctxt.pointee.myDoc = nil }
                return true
            }
        }
        if !ok { ctxt.pointee.wellFormed = 0 }
        guard ctxt.pointee.wellFormed != 0 else {
            var reason = "malformed_xml"
            var message = "row is not well-formed XML"
            var errLine = startLine, column = 0
            if let e = xmlCtxtGetLastError(ctxt) {
                let err = e.pointee
                if err.code == XML_ERR_UNDECLARED_ENTITY.rawValue || err.code == XML_WAR_UNDECLARED_ENTITY.rawValue {
                    reason = "xml_entity"
                }
                if err.code == XML_ERR_INVALID_CHAR.rawValue || err.code == XML_ERR_INVALID_ENCODING.rawValue || err.code == XML_ERR_INVALID_CHARREF.rawValue {
                    // Valid UTF-8 that XML does not allow (a reference such as &#0;, a control byte) is not an encoding error.
                    let valid = row.withUnsafeBytes { UTF8Check.firstInvalid(UnsafeRawBufferPointer(rebasing: $0[0..<(row.count - 1)])) } == nil
                    reason = valid ? "invalid_xml_char" : "invalid_utf8"
                }
                message = err.message.map { String(cString: $0) } ?? message
                while message.hasSuffix("\n") { message.removeLast() }
                message = String(message.map { $0 == "\n" ? " " : $0 })
                errLine = startLine + max(0, Int(err.line) - 1)
                column = Int(err.int2)
            }
            if reason == "xml_entity" { message += " (DTD entities are never expanded; only &lt; &gt; &amp; &quot; &apos; and character references are read)" }
            return .bad(XMLBadRow(line: startLine, offset: startOffset, reason: reason,
                                  message: "XML error at line \(errLine), column \(column): \(message)", raw: Array(row[0..<min(row.count - 1, 1024)])))
        }
        for _ in 0..<nestedRows {
            pending.append(XMLBadRow(line: startLine, offset: startOffset, reason: "nested_row",
                                     message: "XML error at line \(startLine): a row inside another row is not read (rows are siblings in a dump)", raw: []))
        }
        return .row(line: startLine, values: current)
    }
}
