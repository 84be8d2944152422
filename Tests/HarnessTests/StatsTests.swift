import Analysis
import Harness
import XCTest

/// Reference values from SciPy 1.17:
///   special.betainc(2.5, 1.5, 0.3), special.betainc(10, 0.5, 0.9),
///   2 * stats.t.sf(2.1, 4.3), stats.t.ppf(0.975, 2), stats.t.ppf(0.975, 7.5),
///   stats.ttest_ind(a, b, equal_var=False) and its Welch–Satterthwaite df and 95% CI.
final class StatsTests: XCTestCase {
    func testIncompleteBetaAndStudentT() {
        XCTAssertEqual(Stats.incompleteBeta(0.3, 2.5, 1.5), 0.08894372317066562, accuracy: 1e-10)
        XCTAssertEqual(Stats.incompleteBeta(0.9, 10, 0.5), 0.15164090963470994, accuracy: 1e-10)
        XCTAssertEqual(Stats.tTwoSidedP(2.1, df: 4.3), 0.09881140465387347, accuracy: 1e-9)
        XCTAssertEqual(Stats.tQuantile(0.975, df: 2), 4.302652729749462, accuracy: 1e-7)
        XCTAssertEqual(Stats.tQuantile(0.975, df: 7.5), 2.333039626864974, accuracy: 1e-7)
    }

    func testWelch() throws {
        let a = [0.81, 0.83, 0.80], b = [0.78, 0.79, 0.775, 0.77]
        let w = try XCTUnwrap(Stats.welch(a, b))
        XCTAssertEqual(w.t, 3.5295190211692833, accuracy: 1e-9)
        XCTAssertEqual(w.p, 0.03991831223763853, accuracy: 1e-8)
        XCTAssertEqual(w.df, 2.9397079604333567, accuracy: 1e-9)
        XCTAssertEqual(w.low, 0.00303578476925518, accuracy: 1e-7)
        XCTAssertEqual(w.high, 0.06613088189741165, accuracy: 1e-7)
        XCTAssertNil(Stats.welch([1], [1, 2]))
    }

    func testMeanAndStd() {
        XCTAssertEqual(Stats.mean([1, 2, 3, 4]), 2.5)
        XCTAssertEqual(Stats.std([1, 2, 3, 4]), (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Stats.std([7]), 0)
    }
}
