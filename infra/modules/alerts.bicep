// Operational alerts as scheduled log queries over Application Insights. The message texts are the app's own
// log lines (grep for them in the code); the custom metric names are those issue 11 section 3 introduces
// (shared/core/telemetry.py): each query is a parameter so an operator can adjust it without a code change.
param appInsightsId string
param location string
param tags object = {}
param namePrefix string
@description('Email for the action group; empty: the alerts fire without notifying anyone.')
param alertEmail string = ''

@description('A sync run failed: the API logs a run whose orchestration did not start; orchestrations raise exceptions.')
param failedSyncQuery string = 'union (traces | where message has "did not start" or (severityLevel >= 3 and message has "sync")), (exceptions | where operation_Name has "sync") | summarize failures = count()'
@description('A connection needs an operator to reconnect (shared/tokens/store.py marks it action_required).')
param reconnectQuery string = 'traces | where message has "marked action_required" | summarize needing = dcount(tostring(customDimensions.connection_id)), lines = count()'
@description('Days until a refresh token expires, reported per connection by the telemetry gauge.')
param tokenExpiryQuery string = 'customMetrics | where name == "bizmetrics.token.days_to_expiry" | summarize soonest = min(value) by connection = tostring(customDimensions.connection_id) | where soonest < 14'
@description('Share of a source budget left (monday daily calls/complexity, QuickBooks monthly calls).')
param budgetQuery string = 'customMetrics | where name == "bizmetrics.budget.used_share" | summarize highest = max(value) by connection = tostring(customDimensions.connection_id), budget = tostring(customDimensions.budget) | where highest > 0.9'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'bizops'
    enabled: true
    emailReceivers: [ { name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true } ]
  }
}

var actionGroups = empty(alertEmail) ? [] : [ actionGroup.id ]

var alerts = [
  { key: 'failed-syncs', severity: 2, query: failedSyncQuery, description: 'A sync run failed or could not start.' }
  { key: 'reconnect-needed', severity: 1, query: reconnectQuery, description: 'A connection needs an operator to reconnect it.' }
  { key: 'token-expiry-soon', severity: 2, query: tokenExpiryQuery, description: 'A connection token expires within 14 days.' }
  { key: 'budget-near-limit', severity: 3, query: budgetQuery, description: 'A source API budget is more than 90 percent used.' }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for alert in alerts: {
  name: '${namePrefix}-${alert.key}'
  location: location
  tags: tags
  properties: {
    displayName: '${namePrefix} ${alert.key}'
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [ appInsightsId ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actionGroups }
  }
}]
