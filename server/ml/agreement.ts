/**
 * Inter-annotator agreement on preference labels: pure functions over typed arrays (see
 * `TLabels`), free of dependencies so workers, the CLI and reports can share them.
 */
export { choices, toChoices, type TLabels, type TNominal } from './agreement/labels';
export { agreementByStrength, perCoderAgreement, rawAgreement } from './agreement/raw';
export { cohensKappa, fleissKappa, type TKappa } from './agreement/kappa';
export { krippendorffAlpha, type TAlpha, type TAlphaMetric } from './agreement/krippendorff';
export { bootstrapCI, type TBootstrapInterval, type TBootstrapOptions } from './agreement/bootstrap';
