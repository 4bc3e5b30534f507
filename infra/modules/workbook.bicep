// The operations workbook (infra/workbooks/operations.workbook.json): syncs, throughput, budgets and token
// expiry from the app's custom metrics, next to Application Insights. Its queries read the instruments of
// shared/core/meters.py (tests/infra/test_templates.py checks the names).
param location string
param tags object
param appInsightsId string
param displayName string = 'Bizmetrics operations'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'bizmetrics-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('../workbooks/operations.workbook.json')
  }
}

output workbookId string = workbook.id
