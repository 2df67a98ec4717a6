# Run by bash -e -o pipefail, like any `script` step.
echo "report for $PODIUM_WORKFLOW_ID instance $PODIUM_INSTANCE_ID"
echo "text: $PODIUM_PARAM_TEXT"
