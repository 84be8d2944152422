import Foundation
import Tensor
import XCTest

/// Asserts `|actual - expected| <= atol + rtol·|expected|` elementwise, and on failure
/// reports the largest difference and where it is.
public func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != expected \(expected.count) \(message)", file: file, line: line)
        return
    }
    var worst = -1
    var worstExcess: Float = 0
    var worstDiff: Float = 0
    for i in 0..<actual.count {
        let d = abs(actual[i] - expected[i])
        let tol = atol + rtol * abs(expected[i])
        if !(d <= tol) {
            let excess = d.isNaN ? .infinity : d - tol
            if worst < 0 || excess > worstExcess { worst = i; worstExcess = excess; worstDiff = d }
        }
    }
    if worst >= 0 {
        XCTFail("largest difference \(worstDiff) at [\(worst)]: actual \(actual[worst]) vs expected \(expected[worst]) (atol \(atol), rtol \(rtol)) \(message)",
                file: file, line: line)
    }
}

public func assertClose(_ actual: Tensor, _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual.scalars, expected, atol: atol, rtol: rtol, message, file: file, line: line)
}

public func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    assertClose(actual.scalars, expected.scalars, atol: atol, rtol: rtol, message, file: file, line: line)
}
