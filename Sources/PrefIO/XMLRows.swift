// Streaming reader of `<row .../>` elements (Stack Exchange dump layout) with libxml2's
// xmlTextReader, fed from any ByteSource (files, gzip/zstd, stdin). The document is never held in
// memory; entities are substituted (XML_PARSE_NOENT), no network access, huge text nodes allowed.
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

public final class XMLRowReader {
    let source: ByteSource
    var reader: xmlTextReaderPtr?
    var lastError: XMLRowError?
    var streamError: StreamError?
    /// Names of the attributes to keep (others are skipped without copying).
    let wanted: [[UInt8]]

    public init(_ source: ByteSource, attributes: [String]) {
        self.source = source
        wanted = attributes.map { Array($0.utf8) }
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        let readCB: xmlInputReadCallback = { ctx, buf, len in
            let me = Unmanaged<XMLRowReader>.fromOpaque(ctx!).takeUnretainedValue()
            do {
                return Int32(try me.source.read(into: UnsafeMutableRawBufferPointer(start: buf, count: Int(len))))
            } catch let e as StreamError {
                me.streamError = e
                return -1
            } catch {
                me.streamError = StreamError(kind: .io, message: "\(error)", fileOffset: me.source.fileOffset)
                return -1
            }
        }
        let options = Int32(XML_PARSE_NOENT.rawValue | XML_PARSE_HUGE.rawValue | XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        reader = xmlReaderForIO(readCB, nil, ctx, nil, nil, options)
        let errCB: xmlStructuredErrorFunc = { ctx, err in
            guard let ctx, let err else { return }
            let me = Unmanaged<XMLRowReader>.fromOpaque(ctx).takeUnretainedValue()
            let e = err.pointee
            if e.level.rawValue >= XML_ERR_ERROR.rawValue && me.lastError == nil {
                var msg = e.message.map { String(cString: $0) } ?? "parse error"
                while msg.hasSuffix("\n") { msg.removeLast() }
                me.lastError = XMLRowError(line: Int(e.line), column: Int(e.int2), message: msg)
            }
        }
        xmlTextReaderSetStructuredErrorHandler(reader, errCB, ctx)
    }

    deinit { if let r = reader { xmlFreeTextReader(r) } }

    /// Current line of the parser (1-based).
    public var line: Int { reader.map { Int(xmlTextReaderGetParserLineNumber($0)) } ?? 0 }

    /// The next `row` element's wanted attributes (values in `wanted` order; nil when absent).
    /// Returns nil at the end of the document; throws on broken XML or a damaged stream.
    public func next() throws -> (line: Int, values: [[UInt8]?])? {
        guard let r = reader else { throw XMLRowError(line: 0, column: 0, message: "libxml2 reader could not be created") }
        while true {
            let rc = xmlTextReaderRead(r)
            if rc == 0 { return nil }
            if rc < 0 {
                if let s = streamError { throw s }
                throw lastError ?? XMLRowError(line: line, column: 0, message: "parse error")
            }
            guard xmlTextReaderNodeType(r) == 1, let name = xmlTextReaderConstLocalName(r),
                  name[0] == UInt8(ascii: "r"), name[1] == UInt8(ascii: "o"), name[2] == UInt8(ascii: "w"), name[3] == 0 else { continue }
            var values = [[UInt8]?](repeating: nil, count: wanted.count)
            var more = xmlTextReaderMoveToFirstAttribute(r)
            while more == 1 {
                if let an = xmlTextReaderConstLocalName(r) {
                    let len = strlen(UnsafeRawPointer(an).assumingMemoryBound(to: CChar.self))
                    for (k, w) in wanted.enumerated() where w.count == len && memcmp(an, w, len) == 0 {
                        if let v = xmlTextReaderConstValue(r) {
                            let vl = strlen(UnsafeRawPointer(v).assumingMemoryBound(to: CChar.self))
                            values[k] = Array(UnsafeBufferPointer(start: v, count: vl))
                        } else { values[k] = [] }
                        break
                    }
                }
                more = xmlTextReaderMoveToNextAttribute(r)
            }
            xmlTextReaderMoveToElement(r)
            return (line, values)
        }
    }
}
