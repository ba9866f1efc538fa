"""The index page's style and script, inline: the page needs no server and no network.

The script sorts a table by a clicked header (numbers by `data-v`, blanks last),
filters every table by experiment, status, variant and sweep (the selects at the
top), and reads `#sort=<column>` / `#sort=-<column>` and `#experiment=…`,
`#status=…`, `#variant=group=name` from the address, so a link can open the page
sorted and narrowed. Plain DOM, no library.
"""

from mitosis_hydra.core.outcomes import STATUS_HTML

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:32px 0 6px}
table{border-collapse:collapse}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.param{min-width:9em;max-width:24em;white-space:normal;overflow-wrap:anywhere}
tr.best td{background:#e8f5e9}td.star{color:#2e7d32;font-weight:bold}
.status{padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.s-running{color:#222}
.scroll{overflow-x:auto;max-width:100%}
td.trial{white-space:normal;overflow-wrap:anywhere;min-width:14em}
.muted{color:#777}.missing{color:#c62828}code{font-size:12px}
#filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:12px 0;
 padding:8px 10px;background:#f7f7f7;border-radius:4px}
#filters select{max-width:28em}
ul.best{margin:6px 0 0;padding-left:20px}ul.best li{margin:2px 0}
"""

# The status badges take the colours every view uses (core/outcomes.py).
STYLE += "".join(
    f".s-{status.value}{{background:{colour}}}" for status, colour in STATUS_HTML.items()
)

SCRIPT = """
(function(){
var tables=Array.prototype.slice.call(document.querySelectorAll('table.trials'));
function key(r,i,num){var c=r.cells[i],v=c.getAttribute('data-v');
 if(num){v=parseFloat(v);return isNaN(v)?null:v;}return v===null?c.textContent:v;}
function sort(t,i,desc){var hs=t.tHead.rows[0].cells,b=t.tBodies[0];
 var num=hs[i].getAttribute('data-type')==='num';
 var rows=Array.prototype.slice.call(b.rows);
 rows.sort(function(x,y){var p=key(x,i,num),q=key(y,i,num);
  if(p===null||q===null){return p===q?0:p===null?1:-1;}
  var o=p<q?-1:p>q?1:0;return desc?-o:o;});
 var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});
 b.appendChild(f);
 for(var j=0;j<hs.length;j++){hs[j].removeAttribute('aria-sort');}
 hs[i].setAttribute('aria-sort',desc?'descending':'ascending');}
function sortBy(col,desc){tables.forEach(function(t){var hs=t.tHead.rows[0].cells;
 for(var i=0;i<hs.length;i++){if(hs[i].getAttribute('data-col')===col){sort(t,i,desc);}}});}
tables.forEach(function(t){var hs=t.tHead.rows[0].cells;
 Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',function(){
  sort(t,i,h.getAttribute('aria-sort')==='ascending');});});});
var pick={};['experiment','status','variant','sweep'].forEach(function(n){
 pick[n]=document.getElementById('f-'+n);});
function filter(){var want={},shown=0,total=0;
 Object.keys(pick).forEach(function(n){want[n]=pick[n]?pick[n].value:'';});
 document.querySelectorAll('section.experiment').forEach(function(s){var visible=0;
  s.querySelectorAll('tbody tr').forEach(function(r){total++;
   var ok=(!want.experiment||s.getAttribute('data-experiment')===want.experiment)&&
    (!want.status||r.getAttribute('data-status')===want.status)&&
    (!want.sweep||r.getAttribute('data-sweep')===want.sweep)&&
    (!want.variant||JSON.parse(r.getAttribute('data-variants')).indexOf(want.variant)>=0);
   r.style.display=ok?'':'none';if(ok){visible++;}});
  shown+=visible;s.style.display=visible?'':'none';});
 var c=document.getElementById('shown');if(c){c.textContent=shown+' of '+total+' trials shown';}}
Object.keys(pick).forEach(function(n){if(pick[n]){pick[n].addEventListener('change',filter);}});
var h=decodeURIComponent(location.hash.replace(/^#/,''));
h.split('&').forEach(function(part){var at=part.indexOf('=');if(at<0){return;}
 var name=part.slice(0,at),value=part.slice(at+1);
 if(name==='sort'){sortBy(value.replace(/^-/,''),value.charAt(0)==='-');}
 else if(pick[name]){pick[name].value=value;}});
filter();
document.body.setAttribute('data-ready','1');
})();
"""
