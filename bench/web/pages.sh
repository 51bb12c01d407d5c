# The pages bench/web measures (sourced by run.sh and instructions.sh):
# the index of 50 rows by activity, one issue, the index filtered on
# status and priority, and a full-text search.
cols='@columns=title,id,activity,status,assignedto&@pagesize=50'
declare -A pages=(
  [index]="issue?$cols&@sort=-activity"
  [item]="issue12345"
  [filtered]="issue?$cols&@sort=-activity&@filter=status,priority&status=2&priority=3"
  [search]="issue?$cols&@sort=-activity&@search_text=printer+network"
)
