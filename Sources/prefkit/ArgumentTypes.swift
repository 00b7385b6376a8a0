// The library enums a flag takes: the values appear in --help, and a bad value fails in parsing
// (exit 2, with the list of values).
import ArgumentParser
import PrefCurate
import PrefFormats
import PrefTrain

extension ScoreSettings.Budget: ExpressibleByArgument {}
extension ScoreSettings.ReferenceOn: ExpressibleByArgument {}
extension ScoreSettings.Metric: ExpressibleByArgument {}
extension DPOLossType: ExpressibleByArgument {}
extension CompareSettings.Statistic: ExpressibleByArgument {}
extension FormatName: ExpressibleByArgument {}
extension FormatOptions.PKUAxis: ExpressibleByArgument {}
extension DedupOptions.Keep: ExpressibleByArgument {}
extension AdamWSettings.Schedule: ExpressibleByArgument {}
