import Foundation

/// A problem with a dataset on disk. Every case names the file and, where it applies, the
/// line or byte offset, and says what was expected.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let location: String?
    public let message: String

    public init(file: String, location: String? = nil, _ message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        if let location { return "\(file): \(location): \(message)" }
        return "\(file): \(message)"
    }
}
