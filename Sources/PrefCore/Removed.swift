// The one shape of a removed record, written by every stage to `--removed` (docs/format.md,
// "Removed records"): one JSON object per line,
//   {"removed_reason": R, "stage": S, "source": WHERE, "message": M, "rows": N, "details": {...}, "record": RECORD}
// where only the first three are always there. `record` is the input record verbatim (a corpus
// record for `convert`, a normalized pair for the curation commands); rows of joined sources
// (Stack Exchange XML, OpenAssistant trees) have no record of their own, only `source` and `rows`.
import PrefIO

public enum RemovedRecord {
    /// Appends one removed-record line (with its newline) to `b`.
    public static func append(to b: inout ByteBuffer, reason: String, stage: String, source: String,
                              message: String? = nil, rows: Int? = nil, details: [(String, JSONValue)] = [],
                              record: UnsafeRawBufferPointer? = nil) {
        b.append("{\"removed_reason\": "); b.appendJSONString(reason)
        b.append(", \"stage\": "); b.appendJSONString(stage)
        b.append(", \"source\": "); b.appendJSONString(source)
        if let message { b.append(", \"message\": "); b.appendJSONString(message) }
        if let rows { b.append(", \"rows\": "); b.append(String(rows)) }
        if !details.isEmpty { b.append(", \"details\": "); b.appendJSONValue(.object(details)) }
        if let record {
            // The record's own bytes, without trailing white space (a CRLF line keeps no CR).
            var n = record.count
            while n > 0, record[n - 1] == 0x20 || record[n - 1] == 0x0D || record[n - 1] == 0x09 { n -= 1 }
            b.append(", \"record\": "); b.append(UnsafeRawBufferPointer(rebasing: record[0..<n]))
        }
        b.append("}\n")
    }
}
