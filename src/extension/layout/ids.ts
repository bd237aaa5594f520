import { View } from '../ids';

/** The chart webview's view type (the tab input reports it with a prefix). */
export const CHART_VIEW_TYPE_ID = View.chart;
