"""The index page's style and script, inline: the page needs no server and no network.

The script pages each table (`PAGE_ROWS` rows at a time), sorts a table by a
clicked header (numbers by value, blanks last), filters every table by
experiment, status, variant and sweep (the selects at the top), and reads
`#sort=<column>` / `#sort=-<column>` and `#experiment=…`, `#status=…`,
`#variant=group=name`, `#sweep=…` from the address, so a link can open the page
sorted and narrowed. It works on the rows as data (see index_data.py): a page
not yet in memory is loaded by a `<script src>` of its data file, and sorting or
filtering loads every file of a table first, so it covers all its rows, not the
shown page. Rows render with `rowHtml`, the twin of index_table.row_html.
Plain DOM, no library.
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
ol.newest{margin:6px 0 0;padding-left:24px}ol.newest li{margin:2px 0}
.pager{margin:6px 0;display:flex;gap:6px;align-items:center}
body[data-loading] .pager .rows::after{content:" (loading…)";color:#777}
"""

# The status badges take the colours every view uses (core/outcomes.py).
STYLE += "".join(
    f".s-{status.value}{{background:{colour}}}" for status, colour in STATUS_HTML.items()
)

SCRIPT = """
(function(){
var D=JSON.parse(document.getElementById('index-data').textContent);
var want={experiment:'',status:'',variant:'',sweep:''},pick={},xs=[],pending={},loading=0;
Object.keys(want).forEach(function(n){pick[n]=document.getElementById('f-'+n);});
function esc(s){return String(s).replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;')
 .replace(/"/g,'&quot;').replace(/'/g,'&#x27;');}
function fmt(n){return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g,',');}
function quote(s){return encodeURIComponent(s).replace(/%2F/g,'/').replace(/[!'()*]/g,
 function(c){return '%'+c.charCodeAt(0).toString(16).toUpperCase();});}
function g6(v){if(v===0){return 1/v<0?'-0':'0';}
 var m=v.toExponential(5).split('e'),x=parseInt(m[1],10);
 if(x<-4||x>=6){var a=Math.abs(x);
  return m[0].replace(/\\.?0+$/,'')+'e'+(x<0?'-':'+')+(a<10?'0':'')+a;}
 return v.toFixed(5-x).replace(/(\\.\\d*?)0+$/,'$1').replace(/\\.$/,'');}
function num(v){return typeof v==='number'?v:null;}
function numCell(v,kind){var c='<td class="num '+kind+'" data-v="';
 if(v===null||v===undefined){return c+'"></td>';}
 if(typeof v==='string'){return c+'">'+esc(v)+'</td>';}
 return c+v+'">'+g6(v)+'</td>';}
function missing(path){
 return '<span class="missing" title="'+esc(path+' was deleted or moved')+'">'+
 esc(path.split('/').pop())+' (missing)</span>';}
function nbHtml(c,name,kind){if(c===null){return '<span class="muted">none</span>';}
 var href;if(c===1){href=D.prefix+quote(name)+'/notebook.html';}
 else if(c===-1){return missing(D.base+'/'+name+'/notebook.html');}
 else if(typeof c==='object'){return missing(c[0]);}else{href=c;}
 return '<a class="'+kind+'" href="'+esc(href)+'">'+
  esc(decodeURIComponent(href.split('/').pop()))+'</a>';}
function nbText(c,name){if(c===null){return 'none';}
 if(c===-1||typeof c==='object'){
  return (c===-1?'notebook.html':c[0].split('/').pop())+' (missing)';}
 return c===1?'notebook.html':decodeURIComponent(c.split('/').pop());}
function rowHtml(X,r,best){
 var st=D.statuses[r[2]],v=D.combos[r[3]],w=r[8]===null?'':r[8].toFixed(1);
 var h=['<tr'+(best?' class="best"':'')+' data-status="'+st+'"><td class="star" data-v="'+
  (best?1:0)+'">'+(best?'\\u2605':'')+'</td><td class="trial">'+esc(r[0])+
  (r[11]?' <span class="muted">(reproduces '+esc(r[11])+')</span>':'')+'</td><td data-v="'+st+
  '"><span class="status s-'+st+'">'+st+'</span></td>'];
 X.e.params.forEach(function(p){h.push('<td class="param">'+esc(p in v?v[p]:'')+'</td>');});
 h.push(numCell(r[4],'main'));r[5].forEach(function(m){h.push(numCell(m,''));});
 h.push('<td class="num" data-v="'+r[6]+'">'+r[6]+'</td><td data-v="'+esc(r[7])+'">'+
  esc(r[7].slice(0,10))+' '+esc(r[7].slice(11,19))+'</td><td class="num" data-v="'+w+'">'+w+
  '</td><td>'+nbHtml(r[9],r[0],'notebook')+'</td><td><code>'+esc(r[1])+'</code></td></tr>');
 return h.join('');}
var variants=D.combos.map(function(c){return Object.keys(c).map(function(g){return g+'='+c[g];});});
function getter(X,col){var k;
 if(col==='best'){return function(r,p){return X.e.best&&p===0?'1':'0';};}
 if(col==='name'){return function(r){return r[0]+(r[11]?' (reproduces '+r[11]+')':'');};}
 if(col==='status'){return function(r){return D.statuses[r[2]];};}
 if(col.indexOf('param-')===0){k=col.slice(6);
  return function(r){var v=D.combos[r[3]];return k in v?v[k]:'';};}
 if(col==='main'){return function(r){return num(r[4]);};}
 if(col.indexOf('metric-')===0){k=X.e.metrics.indexOf(col.slice(7));
  return function(r){return num(r[5][k]);};}
 if(col==='seed'){return function(r){return r[6];};}
 if(col==='started'){return function(r){return r[7];};}
 if(col==='wall'){return function(r){return r[8];};}
 if(col==='notebook'){return function(r){return nbText(r[9],r[0]);};}
 return function(r){return r[1];};}
function busy(n){loading+=n;if(loading){document.body.setAttribute('data-loading',loading);}
 else{document.body.removeAttribute('data-loading');}}
window.mitosisIndexChunk=function(i,c,f){var X=xs[i],at=c*D.chunk,m=f[5];
 for(var j=0;j<f[0].length;j++){X.rows[at+j]=[f[0][j],f[1][j],f[2][j],f[3][j],f[4][j],
  m.map(function(col){return col[j];}),f[6][j],f[7][j],f[8][j],f[9][j],f[10][j],f[11][j]];}
 X.loaded[c]=true;};
function load(X,chunks,done){chunks=chunks.filter(function(c){return !X.loaded[c];});
 if(!chunks.length){done();return;}
 var left=chunks.length,failed=null;busy(1);
 function finish(err){if(err){failed=err;}
  if(--left===0){busy(-1);if(failed){fail(X,failed);}else{done();}}}
 chunks.forEach(function(c){var k=X.i+'-'+c;if(pending[k]){pending[k].push(finish);return;}
  pending[k]=[finish];var s=document.createElement('script');s.src=D.data+'/'+k+'.js';
  function end(ok){var f=pending[k];delete pending[k];
   f.forEach(function(g){g(ok&&X.loaded[c]?null:k);});}
  s.onload=function(){end(true);};s.onerror=function(){end(false);};
  document.head.appendChild(s);});}
function fail(X,k){X.note.hidden=false;X.note.textContent='Could not load '+
 decodeURIComponent(D.data)+'/'+k+'.js beside this page: the index was written again, or '+
 'the page was copied without its data folder. Reload the page, or run mitosis-hydra index.';}
function count(){var shown=0,total=0;xs.forEach(function(X){shown+=X.shown;total+=X.e.total;});
 var c=document.getElementById('shown');
 if(c){c.textContent=fmt(shown)+' of '+fmt(total)+' trials shown';}}
function pager(X,n,a,b){if(!X.pager){return;}var last=Math.max(0,Math.ceil(n/D.page)-1);
 X.pager.querySelector('.rows').textContent=n?'rows '+fmt(a+1)+'\\u2013'+fmt(b)+' of '+fmt(n):
  'no rows';
 X.pager.querySelectorAll('button').forEach(function(b){var go=b.getAttribute('data-go');
  b.disabled=(go==='first'||go==='prev')?X.page===0:X.page>=last;});}
function render(X){var n=X.view?X.view.length:X.e.total,last=Math.max(0,Math.ceil(n/D.page)-1);
 X.page=Math.max(0,Math.min(X.page,last));var a=X.page*D.page,b=Math.min(n,a+D.page),pos=[],need={};
 for(var p=a;p<b;p++){pos.push(X.view?X.view[p]:p);}
 pos.forEach(function(p){if(X.rows[p]===undefined){need[Math.floor(p/D.chunk)]=1;}});
 if(Object.keys(need).length){load(X,Object.keys(need).map(Number),function(){render(X);});return;}
 X.tbody.innerHTML=pos.map(function(p){return rowHtml(X,X.rows[p],X.e.best&&p===0);}).join('');
 X.section.setAttribute('data-page',X.page+1);pager(X,n,a,b);}
function possible(X){return (!want.status||X.e.statuses[D.statuses.indexOf(want.status)]>0)&&
 (!want.variant||X.e.variants.indexOf(want.variant)>=0);}
function match(r){return (!want.status||D.statuses[r[2]]===want.status)&&
 (!want.sweep||r[10]!==null&&D.sweeps[r[10]]===want.sweep)&&
 (!want.variant||variants[r[3]].indexOf(want.variant)>=0);}
function settle(X,view){X.view=view;X.shown=view?view.length:X.e.total;X.page=0;
 X.section.style.display=X.shown?'':'none';render(X);count();}
function apply(X){var narrow=want.status||want.variant||want.sweep;
 if(want.experiment&&X.e.name!==want.experiment){X.shown=0;X.section.style.display='none';return;}
 if(narrow&&!possible(X)){settle(X,[]);return;}
 if(!narrow&&!X.sort){settle(X,null);return;}
 var all=[];for(var c=0;c*D.chunk<X.e.total;c++){all.push(c);}
 load(X,all,function(){var v=[],get=X.sort&&getter(X,X.sort),keys=[],numeric=X.numeric;
  for(var p=0;p<X.e.total;p++){if(!narrow||match(X.rows[p])){v.push(p);}}
  if(get){v.forEach(function(p){keys[p]=get(X.rows[p],p);});
   v.sort(function(a,b){var p=keys[a],q=keys[b];
    if(numeric&&(p===null||q===null)){return p===q?0:p===null?1:-1;}
    var o=p<q?-1:p>q?1:0;return X.desc?-o:o;});}
  settle(X,v);});}
function sortBy(X,th,desc){var hs=X.table.tHead.rows[0].cells;
 for(var j=0;j<hs.length;j++){hs[j].removeAttribute('aria-sort');}
 th.setAttribute('aria-sort',desc?'descending':'ascending');
 X.sort=th.getAttribute('data-col');X.desc=desc;X.numeric=th.getAttribute('data-type')==='num';}
D.experiments.forEach(function(e,i){
 var s=document.querySelector('section.experiment[data-index="'+i+'"]');
 var note=document.createElement('p');
 note.className='missing';note.hidden=true;s.appendChild(note);
 var X={e:e,i:i,section:s,tbody:s.querySelector('tbody'),table:s.querySelector('table.trials'),
  pager:s.querySelector('.pager'),note:note,rows:new Array(e.total),loaded:{},view:null,page:0,
  sort:null,desc:false,numeric:false,shown:e.total};
 e.first.forEach(function(r,j){X.rows[j]=r;});if(e.total<=D.page){X.loaded[0]=true;}
 Array.prototype.forEach.call(X.table.tHead.rows[0].cells,function(th){
  th.addEventListener('click',function(){sortBy(X,th,th.getAttribute('aria-sort')==='ascending');
   apply(X);});});
 if(X.pager){X.pager.addEventListener('click',function(ev){var go=ev.target.getAttribute('data-go');
  if(!go){return;}var n=X.view?X.view.length:X.e.total;
  X.page=go==='first'?0:go==='prev'?X.page-1:go==='next'?X.page+1:Math.ceil(n/D.page)-1;
  render(X);});pager(X,e.total,0,Math.min(e.total,D.page));}
 xs.push(X);});
Object.keys(pick).forEach(function(n){if(pick[n]){pick[n].addEventListener('change',function(){
 want[n]=pick[n].value;xs.forEach(apply);count();});}});
var h=decodeURIComponent(location.hash.replace(/^#/,'')),changed=false;
h.split('&').forEach(function(part){var at=part.indexOf('=');if(at<0){return;}
 var name=part.slice(0,at),value=part.slice(at+1);
 if(name==='sort'){xs.forEach(function(X){var th=X.table.querySelector('th[data-col="'+
  value.replace(/^-/,'').replace(/["\\\\]/g,'')+'"]');
  if(th){sortBy(X,th,value.charAt(0)==='-');changed=true;}});}
 else if(name in want){want[name]=value;changed=true;var s=pick[name];
  if(s&&!Array.prototype.some.call(s.options,function(o){return o.value===value;})){
   var o=document.createElement('option');o.value=o.textContent=value;s.appendChild(o);}
  if(s){s.value=value;}}});
if(changed){xs.forEach(apply);}
count();
document.body.setAttribute('data-ready','1');
})();
"""
